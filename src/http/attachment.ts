/**
 * A `Content-Disposition` for a download named `fileName` (RFC 6266): an ASCII `filename` for
 * old clients and the exact name as UTF-8 in `filename*` (RFC 8187). Names come from what users
 * typed (a character's slug, a lorebook id from the path); written into the header raw, a
 * character outside Latin-1 makes Node refuse the whole response and a quote ends the value early.
 */
export function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return ascii === fileName ? `attachment; filename="${fileName}"` : `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
