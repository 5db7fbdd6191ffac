import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * In a fresh process (this worker may already hold Bolt): which packages are in require's cache
 * after loading the transport, and after touching Bolt's Socket Mode receiver.
 */
function packagesLoaded(touchSocketMode: boolean): { before: string[]; after: string[] } {
  const script = `
    import { createRequire } from 'node:module';
    const transport = await import(${JSON.stringify(new URL('../../../adapters/slack/transport.ts', import.meta.url).href)});
    const cache = createRequire(import.meta.url).cache;
    const packages = () => [...new Set(Object.keys(cache).map((p) => p.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(?!.*node_modules)/)?.[1]).filter(Boolean))].sort();
    const before = packages();
    if (${touchSocketMode}) transport.loadSocketModeReceiver();
    process.stdout.write(JSON.stringify({ before, after: packages() }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: string[]; after: string[] };
}

describe('loading Bolt', () => {
  it('leaves the receivers HTTP mode does not use (Socket Mode with undici, OAuth, Express) unloaded', () => {
    const { before } = packagesLoaded(false);
    expect(before).toContain('@slack/web-api');
    expect(before).toContain('@slack/bolt');
    for (const heavy of ['@slack/socket-mode', 'undici', '@slack/oauth', 'jsonwebtoken', 'express']) expect(before).not.toContain(heavy);
  });

  it('loads the real Socket Mode receiver the first time it is needed', () => {
    const { before, after } = packagesLoaded(true);
    expect(before).not.toContain('@slack/socket-mode');
    expect(after).toContain('@slack/socket-mode');
    expect(after).toContain('undici');
  });
});
