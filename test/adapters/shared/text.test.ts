/**
 * Text helpers every adapter uses: chunking at a platform limit, Markdown → HTML/plain, and
 * mention stripping. The HTML is checked against the fake Telegram's entity parser, which
 * rejects what Telegram rejects.
 */
import { describe, expect, it } from 'vitest';
import { chunkText, findFences } from '../../../adapters/shared/chunk.js';
import { escapeHtml, parseMarkdown, renderHtml, renderPlain } from '../../../adapters/shared/markdown.js';
import { hasMention, stripMentions } from '../../../adapters/shared/mentions.js';
import { parseFormatted } from '../../fakes/telegram-format.js';

const words = (n: number, w = 'word') => Array.from({ length: n }, (_, i) => `${w}${i}`).join(' ');

describe('chunkText', () => {
  it('keeps short text whole and trims it', () => {
    expect(chunkText('  hello  ', 100)).toEqual(['hello']);
    expect(chunkText('   ', 100)).toEqual([]);
  });

  it('cuts at the last paragraph break that fits', () => {
    const a = 'A'.repeat(60);
    const b = 'B'.repeat(30);
    const c = 'C'.repeat(50);
    expect(chunkText(`${a}\n\n${b}\n\n${c}`, 100)).toEqual([`${a}\n\n${b}`, c]);
  });

  it('falls back to line, sentence, then word boundaries', () => {
    expect(chunkText(`${'a'.repeat(50)}\n${'b'.repeat(70)}`, 100)).toEqual(['a'.repeat(50), 'b'.repeat(70)]);
    const sentences = 'This is one sentence. This is another one! And a third sentence? Then more words follow here';
    expect(chunkText(sentences, 70)).toEqual(['This is one sentence. This is another one! And a third sentence?', 'Then more words follow here']);
    const text = words(40);
    const chunks = chunkText(text, 50);
    expect(chunks.every((c) => c.length <= 50)).toBe(true);
    expect(chunks.join(' ')).toBe(text);
  });

  it('hard-cuts text without spaces, never splitting an emoji', () => {
    expect(chunkText('x'.repeat(250), 100).map((c) => c.length)).toEqual([100, 100, 50]);
    const emoji = `${'x'.repeat(99)}😀${'y'.repeat(10)}`;
    const [first, second] = chunkText(emoji, 100);
    expect(first).toBe('x'.repeat(99));
    expect(second).toBe(`😀${'y'.repeat(10)}`);
  });

  it('moves a code block whole to the next chunk when it fits there', () => {
    const code = '```ts\nconst a = 1;\nconst b = 2;\n```';
    const text = `${'intro '.repeat(12).trim()}\n${code}\nafter`;
    const chunks = chunkText(text, 80);
    expect(chunks.every((c) => c.length <= 80)).toBe(true);
    expect(chunks.some((c) => c.startsWith('```ts') && c.includes('const b = 2;\n```'))).toBe(true);
  });

  it('splits a code block longer than the limit, closing and reopening the fence', () => {
    const body = Array.from({ length: 30 }, (_, i) => `line ${i}();`).join('\n');
    const chunks = chunkText(`\`\`\`js\n${body}\n\`\`\``, 120);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(120);
      expect(c.startsWith('```js\n')).toBe(true);
      expect(c.endsWith('```')).toBe(true);
      expect(findFences(c)).toHaveLength(1);
    }
    const lines = chunks.flatMap((c) => c.split('\n').filter((l) => !l.startsWith('```')));
    expect(lines.join('\n')).toBe(body);
  });

  it('keeps the first chunk stable as a streamed text grows past the limit', () => {
    const full = Array.from({ length: 30 }, (_, i) => `Paragraph ${i}. ${words(8, `p${i}w`)}.`).join('\n\n');
    const limit = 400;
    const final = chunkText(full, limit);
    for (let n = limit + 1; n <= full.length; n += 7) {
      expect(chunkText(full.slice(0, n), limit)[0]).toBe(final[0]);
    }
  });

  it('rejects silly limits', () => {
    expect(() => chunkText('x', 3)).toThrow(RangeError);
  });
});

describe('markdown → Telegram HTML', () => {
  const html = (s: string) => renderHtml(parseMarkdown(s));

  it('escapes &, < and > everywhere', () => {
    expect(html('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
    expect(html('`x<y>&z`')).toBe('<code>x&lt;y&gt;&amp;z</code>');
    expect(escapeHtml('"q" & <t>', true)).toBe('&quot;q&quot; &amp; &lt;t&gt;');
  });

  it('renders bold, italic, strikethrough, code, links, headings, quotes and bullets', () => {
    expect(html('**bold** and __also__, *it* and _em_, ~~gone~~')).toBe('<b>bold</b> and <b>also</b>, <i>it</i> and <i>em</i>, <s>gone</s>');
    expect(html('see [the docs](https://e.x/a_(b)?q=1&r=2)')).toBe('see <a href="https://e.x/a_(b)?q=1&amp;r=2">the docs</a>');
    expect(html('# Title\n- one\n* two')).toBe('<b>Title</b>\n• one\n• two');
    expect(html('> quoted <b>\n> more\nafter')).toBe('<blockquote>quoted &lt;b&gt;\nmore</blockquote>\nafter');
    expect(html('***both***')).toBe('<b><i>both</i></b>');
  });

  it('renders fenced code with its language, and an unclosed fence to the end', () => {
    expect(html('run:\n```python\nprint("<hi>")\n```\ndone')).toBe('run:\n<pre><code class="language-python">print("&lt;hi&gt;")</code></pre>\ndone');
    expect(html('```\nstill streaming')).toBe('<pre>still streaming</pre>');
  });

  it('leaves what is not markup alone', () => {
    for (const s of ['snake_case_name and x__y__z', '2 * 3 * 4 = 24', '**unclosed bold', 'a_b_c', '[not a link](javascript:alert(1))', 'price: $5 * qty', '* ']) {
      expect(renderPlain(parseMarkdown(s)).replace(/• /g, '* ')).toBe(s.replace(/^\* /, '* '));
    }
    expect(html('[x](javascript:alert(1))')).toBe('[x](javascript:alert(1))');
  });

  it('always produces HTML the Telegram parser accepts, no longer than its source when visible', () => {
    const samples = [
      '**a *b* c**', '*a **b** c*', '_a __b__ c_', '`a*b`*c*', '**a\n\nb**', '<script>&amp;</script>', '~~a **b~~ c**',
      '[a **b**](https://x.y) **[c](https://z.w)**', '> q1\n> **q2**\n\n```\ncode & <stuff>\n```', '#### deep _heading_', '\\*not italic\\*',
      '1. first\n2. second *x*', 'emoji 😀 **bold 😀**', '``double `tick` code``', '~~~\ntilde fence\n~~~',
    ];
    for (const s of samples) {
      const nodes = parseMarkdown(s);
      const parsed = parseFormatted(renderHtml(nodes), 'HTML');
      expect(parsed.text).toBe(renderPlain(nodes).replace(/ \(https:\/\/[^)]+\)/g, ''));
      expect(parsed.text.length).toBeLessThanOrEqual(s.length);
    }
  });
});

describe('mentions', () => {
  it('strips the bot mention wherever it is, whole tokens only', () => {
    expect(stripMentions('@aria_bot, how are you?', ['@aria_bot'])).toBe('how are you?');
    expect(stripMentions('hey @Aria_Bot how are you', ['@aria_bot'])).toBe('hey how are you');
    expect(stripMentions('ask @aria_bot_two instead', ['@aria_bot'])).toBe('ask @aria_bot_two instead');
    expect(stripMentions('mail me@aria_bot.com', ['@aria_bot'])).toBe('mail me@aria_bot.com');
    expect(stripMentions('<@U123> hello <@U999>', ['<@U123>'])).toBe('hello <@U999>');
    expect(stripMentions('line one @aria_bot\nline two', ['@aria_bot'])).toBe('line one\nline two');
  });

  it('detects a mention the same way', () => {
    expect(hasMention('hi @aria_bot!', ['@aria_bot'])).toBe(true);
    expect(hasMention('hi @aria_bot2', ['@aria_bot'])).toBe(false);
    expect(hasMention('hi', [])).toBe(false);
  });
});
