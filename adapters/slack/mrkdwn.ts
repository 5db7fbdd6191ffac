/**
 * Text both ways between the model's Markdown and Slack's mrkdwn.
 *
 * Outbound: Slack does not speak Markdown in `text` — bold is `*x*`, italics `_x_`, links
 * `<url|label>` — and it treats `&`, `<`, `>` as control characters that must be escaped. The
 * shared parser turns the model's Markdown into a tree; this renders it as mrkdwn. User and
 * channel references the model repeats (`<@U123>`, `<#C123>`) stay live; broadcast tokens such
 * as `<!channel>` are escaped, so a character can never ping a whole channel.
 *
 * Inbound: Slack sends `&amp;`-escaped text with `<…>` tokens for links and mentions; the model
 * should read plain text.
 */
import { parseMarkdown, type MdNode } from '../shared/markdown.js';

/** Slack's three control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const LIVE_REF = /<(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+(?:\|[^<>|]*)?)>/g;

/** Escape text but keep user/channel references the model echoed as working references. */
function escapeText(s: string): string {
  let out = '';
  let last = 0;
  for (const m of s.matchAll(LIVE_REF)) {
    out += escapeMrkdwn(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeMrkdwn(s.slice(last));
}

/**
 * Markdown-ish model output → Slack mrkdwn.
 *
 * @example toMrkdwn('**Hi** [docs](https://x.dev) & <b>') // '*Hi* <https://x.dev|docs> &amp; &lt;b&gt;'
 */
export function toMrkdwn(markdown: string): string {
  return render(parseMarkdown(markdown));
}

function render(nodes: MdNode[]): string {
  return nodes.map(node).join('');
}

function node(n: MdNode): string {
  switch (n.t) {
    case 'text':
      return escapeText(n.v);
    case 'b':
      return `*${render(n.c)}*`;
    case 'i':
      return `_${render(n.c)}_`;
    case 's':
      return `~${render(n.c)}~`;
    case 'code':
      return `\`${escapeMrkdwn(n.v)}\``;
    case 'pre':
      return `\`\`\`\n${escapeMrkdwn(n.v)}\n\`\`\``;
    case 'a': {
      const label = plainLabel(n.c).replace(/[|>]/g, ' ').trim();
      const href = n.href.replace(/\|/g, '%7C');
      return label && label !== n.href ? `<${href}|${escapeMrkdwn(label)}>` : `<${href}>`;
    }
    case 'quote':
      return render(n.c)
        .split('\n')
        .map((l) => `> ${l}`)
        .join('\n');
  }
}

function plainLabel(nodes: MdNode[]): string {
  return nodes.map((n) => (n.t === 'text' || n.t === 'code' || n.t === 'pre' ? n.v : 'c' in n ? plainLabel(n.c) : '')).join('');
}

/**
 * Slack message text → what the model reads: links as `label (url)`, mentions as `@U123`,
 * channels as `#name`, broadcasts as `@here`, entities unescaped.
 *
 * @example fromSlackText('see <https://x.dev|docs> &amp; <#C1|general>') // 'see docs (https://x.dev) & #general'
 */
export function fromSlackText(text: string): string {
  return text
    .replace(/<([^<>]+)>/g, (_all, inner: string) => {
      const [target = '', label] = inner.split('|', 2);
      if (target.startsWith('@')) return label ? `@${label}` : target;
      if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
      if (target.startsWith('!')) return `@${(label ?? target.slice(1)).replace(/^@/, '').split('^')[0]}`;
      if (/^(https?:|mailto:)/.test(target)) {
        const url = target.replace(/^mailto:/, '');
        return label && label !== url ? `${label} (${target})` : url;
      }
      return inner;
    })
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
