/**
 * Models write Markdown-ish text: **bold**, *italic*, `code`, fenced blocks, [links](url),
 * headings, quotes, bullet lists. Each platform wants it differently (Telegram a small HTML
 * subset, Slack mrkdwn, Discord Markdown as-is), and each rejects or mangles what it does not
 * understand. So the text is parsed once, forgivingly, into a small tree — anything unclosed or
 * ambiguous stays literal text — and each adapter renders the tree for its platform. The
 * renderers here cover HTML (Telegram's subset, escaped) and plain text (the fallback when a
 * platform still rejects the markup).
 */

export type MdNode =
  | { t: 'text'; v: string }
  | { t: 'b' | 'i' | 's'; c: MdNode[] }
  | { t: 'code'; v: string }
  | { t: 'pre'; v: string; lang?: string }
  | { t: 'a'; href: string; c: MdNode[] }
  | { t: 'quote'; c: MdNode[] };

const FENCE_OPEN = /^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n`]*$/;
const SAFE_URL = /^(https?:\/\/|mailto:|tg:\/\/)[^\s<>"]+$/i;

/**
 * Parse Markdown-ish text into nodes. Never throws; an unclosed fence runs to the end of the text
 * (so a code block that is still streaming renders as code).
 *
 * @example renderHtml(parseMarkdown('**hi** <you>')) // '<b>hi</b> &lt;you&gt;'
 */
export function parseMarkdown(src: string): MdNode[] {
  const lines = src.split('\n');
  const blocks: MdNode[][] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push(parseInline(para.join('\n')));
    para = [];
  };
  const isQuote = (l: string) => /^[ \t]{0,3}>/.test(l);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      flush();
      const marker = fence[1]!;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const l = lines[j]!.trim();
        if (l[0] === marker[0] && l.length >= marker.length && /^([`~])\1*$/.test(l)) break;
        body.push(lines[j]!);
      }
      blocks.push([{ t: 'pre', v: body.join('\n'), ...(fence[2] ? { lang: fence[2] } : {}) }]);
      i = j;
    } else if (isQuote(line)) {
      flush();
      const quoted: string[] = [];
      let j = i;
      for (; j < lines.length && isQuote(lines[j]!); j++) quoted.push(lines[j]!.replace(/^[ \t]{0,3}> ?/, ''));
      blocks.push([{ t: 'quote', c: parseInline(quoted.join('\n')) }]);
      i = j - 1;
    } else {
      const heading = /^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/.exec(line);
      para.push(heading ? `**${heading[1]!.replace(/\*\*/g, '')}**` : line.replace(/^([ \t]*)[-*+][ \t]+(?=\S)/, '$1• '));
    }
  }
  flush();
  const out: MdNode[] = [];
  blocks.forEach((b, k) => push(out, k > 0 ? [{ t: 'text', v: '\n' }, ...b] : b));
  return out;
}

/** Appends nodes, merging adjacent text. */
function push(out: MdNode[], nodes: MdNode[]): void {
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (n.t === 'text' && last?.t === 'text') last.v += n.v;
    else if (n.t !== 'text' || n.v) out.push(n);
  }
}

const isWord = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c);

/** The characters an inline span or escape can start with; everything else is plain text. */
const MARKUP = /[\\`[*_~]/g;

/** Inline spans: code, bold, italic, strikethrough, links. Unmatched markers stay literal. */
export function parseInline(s: string): MdNode[] {
  const out: MdNode[] = [];
  let text = '';
  const emit = (n: MdNode) => {
    if (text) push(out, [{ t: 'text', v: text }]);
    text = '';
    out.push(n);
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    // Plain text up to the next character that could start markup, taken in one piece.
    MARKUP.lastIndex = i;
    const next = MARKUP.exec(s)?.index ?? s.length;
    if (next > i) {
      text += s.slice(i, next);
      i = next;
      continue;
    }
    if (c === '\\' && i + 1 < s.length && /[\\`*_~[\]()#>-]/.test(s[i + 1]!)) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(s.slice(i))![0];
      const end = s.indexOf(run, i + run.length);
      if (end !== -1) {
        emit({ t: 'code', v: s.slice(i + run.length, end).replace(/^ (.*) $/s, '$1') });
        i = end + run.length;
        continue;
      }
      text += run;
      i += run.length;
      continue;
    }
    if (c === '[') {
      const link = /^\[([^\]\n]+)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)/.exec(s.slice(i));
      if (link && SAFE_URL.test(link[2]!)) {
        emit({ t: 'a', href: link[2]!, c: parseInline(link[1]!) });
        i += link[0].length;
        continue;
      }
    }
    const triple = c === '*' || c === '_' ? /^(\*\*\*|___)(?=\S)([\s\S]*?\S)\1(?![*_])/.exec(s.slice(i)) : null;
    if (triple && !(triple[1] === '___' && isWord(s[i - 1]))) {
      emit({ t: 'b', c: [{ t: 'i', c: parseInline(triple[2]!) }] });
      i += triple[0].length;
      continue;
    }
    const span = delimited(s, i);
    if (span) {
      emit({ t: span.type, c: parseInline(s.slice(i + span.len, span.end)) });
      i = span.end + span.len;
      continue;
    }
    text += c;
    i++;
  }
  if (text) push(out, [{ t: 'text', v: text }]);
  return out;
}

/** A `**`, `__`, `*`, `_` or `~~` span opening at `i`, with its closing index; undefined if none. */
function delimited(s: string, i: number): { type: 'b' | 'i' | 's'; len: number; end: number } | undefined {
  const two = s.slice(i, i + 2);
  const c = s[i]!;
  let token: string;
  let type: 'b' | 'i' | 's';
  if (two === '**' || two === '__') [token, type] = [two, 'b'];
  else if (two === '~~') [token, type] = [two, 's'];
  else if (c === '*' || c === '_') [token, type] = [c, 'i'];
  else return undefined;
  const after = s[i + token.length];
  if (isSpace(after) || after === c) return undefined; // "* item", "a * b", "***"
  if (c === '_' && isWord(s[i - 1])) return undefined; // snake_case stays literal
  for (let j = s.indexOf(token, i + token.length); j !== -1; j = s.indexOf(token, j + 1)) {
    if (j === i + token.length) continue;
    if (isSpace(s[j - 1])) continue;
    if (s[j + token.length] === c) continue; // part of a longer run
    if (c === '_' && isWord(s[j + token.length])) continue;
    if (s.slice(i + token.length, j).includes('\n\n')) return undefined;
    return { type, len: token.length, end: j };
  }
  return undefined;
}

/** `&`, `<`, `>` escaped for HTML text; quotes too when `attr`. */
export function escapeHtml(s: string, attr = false): string {
  const t = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attr ? t.replace(/"/g, '&quot;') : t;
}

/** HTML with only b, i, s, code, pre, a and blockquote — the subset Telegram accepts. */
export function renderHtml(nodes: MdNode[]): string {
  return nodes.map(nodeHtml).join('');
}

function nodeHtml(n: MdNode): string {
  switch (n.t) {
    case 'text':
      return escapeHtml(n.v);
    case 'b':
    case 'i':
    case 's':
      return `<${n.t}>${renderHtml(n.c)}</${n.t}>`;
    case 'code':
      return `<code>${escapeHtml(n.v)}</code>`;
    case 'pre':
      return n.lang ? `<pre><code class="language-${escapeHtml(n.lang, true)}">${escapeHtml(n.v)}</code></pre>` : `<pre>${escapeHtml(n.v)}</pre>`;
    case 'a':
      return `<a href="${escapeHtml(n.href, true)}">${renderHtml(n.c)}</a>`;
    case 'quote':
      return `<blockquote>${renderHtml(n.c)}</blockquote>`;
  }
}

/** The text a reader would see, markup removed (links keep their URL in parentheses). */
export function renderPlain(nodes: MdNode[]): string {
  return nodes
    .map((n): string => {
      switch (n.t) {
        case 'text':
        case 'code':
        case 'pre':
          return n.v;
        case 'a': {
          const label = renderPlain(n.c);
          return label === n.href ? label : `${label} (${n.href})`;
        }
        default:
          return renderPlain(n.c);
      }
    })
    .join('');
}
