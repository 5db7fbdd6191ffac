/**
 * Parse-mode handling for the fake Telegram server (see ./telegram.ts): turns `text` +
 * `parse_mode` into the plain text a user sees plus MessageEntity objects, and rejects the
 * markup Telegram rejects with Telegram's own wording (taken from TDLib's parser), so the
 * adapter's escaping bugs surface in tests instead of in production. It is an approximation:
 * common mistakes (unescaped reserved characters, unclosed entities, unknown or mismatched
 * HTML tags) are caught; exotic corner cases of the real parser are not modelled.
 */

export interface Entity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

/** Thrown for unparseable markup; the server answers `400 Bad Request: can't parse entities: <message>`. */
export class ParseEntitiesError extends Error {}

function fail(msg: string): never {
  throw new ParseEntitiesError(msg);
}
/** TDLib reports positions as UTF-8 byte offsets into the raw input. */
const byteAt = (s: string, i: number): number => Buffer.byteLength(s.slice(0, i));

/** Plain text and entities for `text` under `parse_mode` (undefined / '' = no markup). */
export function parseFormatted(text: string, parseMode: string | undefined): { text: string; entities: Entity[] } {
  const mode = (parseMode ?? '').toLowerCase();
  if (mode === '') return { text, entities: [] };
  if (mode === 'markdownv2') return parseMarkdownV2(text);
  if (mode === 'html') return parseHtml(text);
  if (mode === 'markdown') return parseMarkdownLegacy(text);
  throw new ParseEntitiesError(`Unsupported parse_mode "${parseMode}"`);
}

const MDV2_RESERVED = '_*[]()~`>#+-=|{}.!';
const MDV2_NAMES: Record<string, [string, string]> = {
  '*': ['bold', 'Bold'],
  _: ['italic', 'Italic'],
  __: ['underline', 'Underline'],
  '~': ['strikethrough', 'Strikethrough'],
  '||': ['spoiler', 'Spoiler'],
  '[': ['text_link', 'TextUrl'],
  '![': ['custom_emoji', 'CustomEmoji'],
};

/** MarkdownV2 as documented at core.telegram.org/bots/api#markdownv2-style. */
function parseMarkdownV2(src: string): { text: string; entities: Entity[] } {
  let out = '';
  const entities: Entity[] = [];
  const stack: Array<{ token: string; offset: number; at: number }> = [];
  let quoteStart = -1;
  const push = (e: Entity) => {
    if (e.length > 0) entities.push(e);
  };
  /** Reads up to an unescaped `close` (only '\\' escapes count inside code/URLs); -1 if missing. */
  const readUntil = (from: number, close: string): [string, number] => {
    let s = '';
    for (let j = from; j < src.length; j++) {
      if (src[j] === '\\' && j + 1 < src.length) s += src[++j];
      else if (src.startsWith(close, j)) return [s, j];
      else s += src[j];
    }
    return [s, -1];
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    const lineStart = i === 0 || src[i - 1] === '\n';
    if (c === '\n' && quoteStart >= 0 && src[i + 1] !== '>') {
      push({ type: 'blockquote', offset: quoteStart, length: out.length - quoteStart });
      quoteStart = -1;
    }
    if (c === '\\') {
      const next = src.charCodeAt(i + 1);
      if (next > 0 && next < 127) {
        out += src[++i];
        continue;
      }
      fail("Character '\\' is reserved and must be escaped with the preceding '\\'");
    }
    if (!MDV2_RESERVED.includes(c)) {
      out += c;
      continue;
    }
    if (c === '>' && lineStart) {
      if (quoteStart < 0) quoteStart = out.length;
      continue;
    }
    if (c === '`') {
      const pre = src.startsWith('```', i);
      const [body, end] = readUntil(i + (pre ? 3 : 1), pre ? '```' : '`');
      if (end < 0) fail(`Can't find end of ${pre ? 'Pre' : 'Code'} entity at byte offset ${byteAt(src, i)}`);
      let content = body;
      let language: string | undefined;
      if (pre) {
        const nl = content.indexOf('\n');
        const first = nl < 0 ? '' : content.slice(0, nl);
        if (nl >= 0 && /^[^\s`]*$/.test(first)) {
          language = first || undefined;
          content = content.slice(nl + 1);
        }
      }
      push({ type: pre ? 'pre' : 'code', offset: out.length, length: content.length, ...(language ? { language } : {}) });
      out += content;
      i = end + (pre ? 2 : 0);
      continue;
    }
    let token = c;
    if (c === '_' && src[i + 1] === '_') token = '__';
    if (c === '|' && src[i + 1] === '|') token = '||';
    if (c === '!' && src[i + 1] === '[') token = '![';
    if (c === ']') {
      const top = stack[stack.length - 1];
      if (!top || (top.token !== '[' && top.token !== '![')) fail("Character ']' is reserved and must be escaped with the preceding '\\'");
      stack.pop();
      let url = '';
      if (src[i + 1] === '(') {
        const [u, end] = readUntil(i + 2, ')');
        if (end < 0) fail(`Can't find end of a URL at byte offset ${byteAt(src, i + 1)}`);
        url = u;
        i = end;
      }
      if (url && top.token === '[') push({ type: 'text_link', offset: top.offset, length: out.length - top.offset, url });
      if (url && top.token === '![') {
        const id = /id=(\d+)/.exec(url)?.[1] ?? '0';
        push({ type: 'custom_emoji', offset: top.offset, length: out.length - top.offset, custom_emoji_id: id });
      }
      continue;
    }
    const names = MDV2_NAMES[token];
    if (!names) fail(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
    i += token.length - 1;
    const openIdx = stack.findIndex((e) => e.token === token);
    if (openIdx >= 0 && token !== '[' && token !== '![') {
      const open = stack[openIdx]!;
      stack.splice(openIdx, 1);
      push({ type: names![0], offset: open.offset, length: out.length - open.offset });
    } else {
      stack.push({ token, offset: out.length, at: i - token.length + 1 });
    }
  }
  const open = stack[stack.length - 1];
  if (open) fail(`Can't find end of ${MDV2_NAMES[open.token]![1]} entity at byte offset ${byteAt(src, open.at)}`);
  if (quoteStart >= 0) push({ type: 'blockquote', offset: quoteStart, length: out.length - quoteStart });
  return { text: out, entities: entities.sort((a, b) => a.offset - b.offset) };
}

/** Legacy Markdown: no reserved characters, but an opened entity must be closed. */
function parseMarkdownLegacy(src: string): { text: string; entities: Entity[] } {
  let out = '';
  const entities: Entity[] = [];
  const types: Record<string, string> = { '*': 'bold', _: 'italic', '`': 'code' };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\' && '_*`['.includes(src[i + 1] ?? '')) {
      out += src[++i];
      continue;
    }
    const close = c === '[' ? ']' : src.startsWith('```', i) ? '```' : types[c] ? c : '';
    if (!close) {
      out += c;
      continue;
    }
    const from = i + close.length;
    const end = src.indexOf(close, from);
    if (end < 0) fail(`Can't find end of the entity starting at byte offset ${byteAt(src, i)}`);
    const inner = src.slice(from, end);
    let url: string | undefined;
    i = end + close.length - 1;
    if (c === '[' && src[end + 1] === '(') {
      const urlEnd = src.indexOf(')', end + 2);
      if (urlEnd < 0) fail(`Can't find end of a URL at byte offset ${byteAt(src, end + 1)}`);
      url = src.slice(end + 2, urlEnd);
      i = urlEnd;
    }
    const type = close === '```' ? 'pre' : c === '[' ? 'text_link' : types[c]!;
    if (inner.length > 0 && (type !== 'text_link' || url)) entities.push({ type, offset: out.length, length: inner.length, ...(url ? { url } : {}) });
    out += inner;
  }
  return { text: out, entities };
}

const HTML_TYPES: Record<string, string> = {
  b: 'bold', strong: 'bold', i: 'italic', em: 'italic', u: 'underline', ins: 'underline',
  s: 'strikethrough', strike: 'strikethrough', del: 'strikethrough', span: 'spoiler',
  'tg-spoiler': 'spoiler', a: 'text_link', code: 'code', pre: 'pre', blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};
const HTML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

/** HTML as documented at core.telegram.org/bots/api#html-style. */
function parseHtml(src: string): { text: string; entities: Entity[] } {
  let out = '';
  const entities: Entity[] = [];
  const stack: Array<{ name: string; offset: number; attrs: Record<string, string> }> = [];
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '&') {
      const m = /^&(#x[0-9a-f]+|#\d+|[a-z]+);/i.exec(src.slice(i, i + 12));
      const name = m?.[1];
      const decoded = !name ? undefined
        : name.startsWith('#x') || name.startsWith('#X') ? String.fromCodePoint(parseInt(name.slice(2), 16))
        : name.startsWith('#') ? String.fromCodePoint(Number(name.slice(1)))
        : HTML_ENTITIES[name.toLowerCase()];
      if (decoded !== undefined) {
        out += decoded;
        i += m![0].length - 1;
      } else out += c;
      continue;
    }
    if (c !== '<') {
      out += c;
      continue;
    }
    const at = byteAt(src, i);
    const gt = src.indexOf('>', i);
    if (src[i + 1] === '/') {
      if (gt < 0) fail(`Can't find end tag at byte offset ${at}`);
      const name = src.slice(i + 2, gt).trim().toLowerCase();
      const open = stack.pop();
      if (!open) fail(`Unexpected end tag at byte offset ${at}`);
      if (name !== open.name) fail(`Unmatched end tag at byte offset ${at}, expected "</${open.name}>", found "</${name}>"`);
      const e: Entity = { type: HTML_TYPES[name]!, offset: open.offset, length: out.length - open.offset };
      if (name === 'a') e.url = open.attrs.href ?? '';
      if (name === 'tg-emoji') e.custom_emoji_id = open.attrs['emoji-id'] ?? '0';
      if (name === 'blockquote' && 'expandable' in open.attrs) e.type = 'expandable_blockquote';
      if (name === 'code' && stack.at(-1)?.name === 'pre') {
        // <pre><code class="language-x"> is one pre entity carrying the language
        const lang = /^language-(.+)$/.exec(open.attrs.class ?? '')?.[1];
        if (lang) stack.at(-1)!.attrs['data-language'] = lang;
        i = gt;
        continue;
      }
      if (name === 'pre' && open.attrs['data-language']) e.language = open.attrs['data-language'];
      if (e.length > 0 && !(name === 'a' && !e.url)) entities.push(e);
      i = gt;
      continue;
    }
    const name = /^[a-z0-9-]*/i.exec(src.slice(i + 1))![0].toLowerCase();
    if (!HTML_TYPES[name]) fail(`Unsupported start tag "${name}" at byte offset ${at}`);
    if (gt < 0) fail(`Unclosed start tag at byte offset ${at}`);
    const attrs: Record<string, string> = {};
    for (const m of src.slice(i + 1 + name.length, gt).matchAll(/([a-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+)))?/gi)) {
      attrs[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? m[4] ?? '';
    }
    if (name === 'span' && attrs.class !== 'tg-spoiler') fail(`Tag "span" must have class "tg-spoiler" at byte offset ${at}`);
    stack.push({ name, offset: out.length, attrs });
    i = gt;
  }
  const open = stack[stack.length - 1];
  if (open) fail(`Can't find end tag corresponding to start tag "${open.name}"`);
  return { text: out, entities: entities.sort((a, b) => a.offset - b.offset) };
}

/**
 * Entities Telegram attaches to a user's plain text: a `bot_command` at offset 0 for
 * `/cmd` or `/cmd@bot` (telegraf's `bot.command()` needs exactly this), and `mention`s
 * for `@username` (Telegram usernames are 5–32 characters).
 */
export function userTextEntities(text: string): Entity[] {
  const entities: Entity[] = [];
  const cmd = /^\/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?/.exec(text);
  if (cmd) entities.push({ type: 'bot_command', offset: 0, length: cmd[0].length });
  for (const m of text.matchAll(/(^|[^\w@/])(@[A-Za-z0-9_]{5,32})/g)) {
    const offset = m.index! + m[1]!.length;
    if (!cmd || offset >= cmd[0].length) entities.push({ type: 'mention', offset, length: m[2]!.length });
  }
  return entities;
}
