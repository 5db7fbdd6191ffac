/**
 * Mentions of the bot are how a group addresses it, but they are noise to the model ("@mybot
 * what's up" means "what's up"). Adapters strip their own mention tokens — `@username` on
 * Telegram, `<@U123>` on Slack, `<@123>` / `<@!123>` on Discord — before the text reaches the
 * engine, and leave other people's mentions alone.
 */

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Remove every occurrence of the given tokens (case-insensitive, whole tokens only: `@bot` does
 * not match inside `@bot_two`), then tidy the whitespace and punctuation left behind.
 *
 * @example stripMentions('@aria_bot, how are you?', ['@aria_bot']) // 'how are you?'
 */
export function stripMentions(text: string, tokens: string[]): string {
  const wanted = tokens.filter(Boolean);
  if (!wanted.length) return text;
  const re = new RegExp(`(?<![\\w@])(?:${wanted.map(escapeRe).join('|')})(?![\\w])[,:]?`, 'giu');
  return text
    .replace(re, ' ')
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/^[ \t]+|[ \t]+$/gm, '')
    .trim();
}

/** True when `text` contains one of the tokens as a whole token (same rules as stripMentions). */
export function hasMention(text: string, tokens: string[]): boolean {
  const wanted = tokens.filter(Boolean);
  if (!wanted.length) return false;
  return new RegExp(`(?<![\\w@])(?:${wanted.map(escapeRe).join('|')})(?![\\w])`, 'iu').test(text);
}
