/** Image types a card can carry as its picture, told apart by their first bytes. */
const SIGNATURES: ReadonlyArray<{ mime: string; ext: string; test: (b: Uint8Array) => boolean }> = [
  { mime: 'image/png', ext: 'png', test: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { mime: 'image/jpeg', ext: 'jpeg', test: (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
  { mime: 'image/gif', ext: 'gif', test: (b) => ascii(b, 0, 'GIF8') },
  { mime: 'image/webp', ext: 'webp', test: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') },
  { mime: 'image/avif', ext: 'avif', test: (b) => ascii(b, 4, 'ftypavif') || ascii(b, 4, 'ftypavis') },
];

/** The MIME type of an image by its magic bytes, or undefined when it is none we know. */
export function sniffImage(bytes: Uint8Array): { mime: string; ext: string } | undefined {
  const found = SIGNATURES.find((sig) => sig.test(bytes));
  return found && { mime: found.mime, ext: found.ext };
}

export function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  return bytes.length >= at + prefix.length && prefix.every((byte, i) => bytes[at + i] === byte);
}

function ascii(bytes: Uint8Array, at: number, text: string): boolean {
  return startsWith(bytes, Array.from(text, (c) => c.charCodeAt(0)), at);
}
