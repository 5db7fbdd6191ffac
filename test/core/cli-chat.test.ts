/**
 * `npm run cli -- chat`: the terminal chat through the real engine — in process with the fake
 * OpenAI server (a configured model), and as a real process on its stdin with the offline model.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { openStore } from '../../src/store/index.js';
import { startFakeOpenAI, contentText, type FakeOpenAI } from '../fakes/openai.js';

let dir: string;
let fake: FakeOpenAI | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-chat-'));
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Run the chat with these lines typed, then end of input; every write the chat made. */
async function chat(args: string[], lines: string[], env: Record<string, string>): Promise<{ code: number; writes: string[]; text: string }> {
  const input = new PassThrough();
  const writes: string[] = [];
  const output = new Writable({ write(chunk, _enc, cb) { writes.push(String(chunk)); cb(); } });
  input.end(lines.map((l) => `${l}\n`).join(''));
  const code = await runCli(['chat', ...args], { DATABASE_URL: join(dir, 'charbridge.db'), ...env }, () => undefined, { input, output, terminal: false });
  return { code, writes, text: writes.join('') };
}

describe('the terminal chat', () => {
  it('talks through the engine to a configured model: the character prompt, streamed replies, /clear and /character', async () => {
    fake = await startFakeOpenAI();
    const env = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0' };
    const { code, writes, text } = await chat(['Captain Rook'], ['hello there', '/clear', 'again', '/character nyx', 'who is here', '/exit', 'never sent'], env);
    expect(code).toBe(0);
    expect(text).toContain('Chatting with Captain Rook. Model: openai:fake-model.');
    // The reply is written piece by piece as the model streams it, not at the end.
    const first = writes.indexOf('Captain Rook › ');
    expect(writes.slice(first, first + 5)).toEqual(['Captain Rook › ', 'Echo: ', 'hello ', 'there', '\n']);
    expect(text).toContain('Context cleared.');
    expect(text).toContain('Switched to Nyx.');
    expect(text).toContain('Nyx › Echo: who is here\n');
    expect(text).not.toContain('never sent');

    const system = (i: number) => contentText(fake!.requests[i]!.body.messages[0].content);
    const said = (i: number) => (fake!.requests[i]!.body.messages as Array<{ content: unknown }>).map((m) => contentText(m.content)).join('\n');
    expect(fake.requests).toHaveLength(3);
    expect(system(0)).toContain('You are Captain Rook');
    expect(said(1)).toContain('again');
    expect(said(1)).not.toContain('hello there'); // /clear hid the earlier turn from the model
    expect(system(2)).toContain('You are Nyx');

    // The chat is kept like any conversation, and the next run continues it.
    const store = await openStore(join(dir, 'charbridge.db'));
    try {
      const { conversations } = await store.conversations.list({ platform: 'api', page: 1, limit: 10 });
      expect(conversations).toHaveLength(1);
    } finally {
      await store.close();
    }
    const again = await chat([], ['still there?'], env);
    expect(again.text).toContain('Chatting with Nyx.');
  });

  it('names the characters there are when asked for one that is not', async () => {
    const { code, text } = await chat(['nobody-here'], [], {});
    expect(code).toBe(64);
    expect(text).toMatch(/^No character called "nobody-here"\. Try one of: .*aria.*captain-rook/);
  });

  it('runs as a process on its stdin with the offline model', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'chat', 'sunny'], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { PATH: process.env.PATH, HOME: dir, DATABASE_URL: join(dir, 'charbridge.db') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.stdin.end('hi\n/exit\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain('Model: the built-in OFFLINE model');
    expect(out).toContain('Sunny › [offline model] Sunny here. You said: "hi".');
  }, 60_000);
});
