/**
 * A setting with a typo (`TELEGRAM_TOKEN` for `TELEGRAM_BOT_TOKEN`) would leave its feature
 * silently off: every name in `.env`, and names in the environment under charbridge's prefixes,
 * that is not a setting is warned about at start, with the setting it most likely meant.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeUnknown, envFileKeys, unknownVariables } from '../../src/unknown-variables.js';
import { nextSteps } from '../../src/banner.js';
import { launchInstance, type LaunchedInstance } from '../cluster/child-instance.js';
import { waitFor } from '../adapters/telegram/world.js';

let dir: string | undefined;
let child: LaunchedInstance | undefined;
afterEach(async () => {
  await child?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = dir = undefined;
});

describe('unknownVariables', () => {
  it('names what is not a setting, with the likeliest meant one', () => {
    // Kubernetes' links to a service named redis are another program's, not typos.
    const k8s = { REDIS_PORT: 'tcp://10.0.0.9:6379', REDIS_SERVICE_HOST: '10.0.0.9', REDIS_SERVICE_PORT: '6379', REDIS_PORT_6379_TCP_ADDR: '10.0.0.9' };
    // What the openai SDK and the pg driver read themselves is not ignored, so not warned about.
    const libraries = { OPENAI_ORG_ID: 'org-x', OPENAI_PROJECT_ID: 'proj_x', OPENAI_CUSTOM_HEADERS: 'X-Title: x', OPENAI_LOG: 'warn' };
    const env = { TELEGRAM_TOKEN: 'x', OPENAI_KEY: 'x', DISCORD_TOKEN: 'x', SLACK_BOT_TOKN: 'x', OPENAI_ORGANIZATION: 'x', OPENAI_ORG: 'x', PATH: '/bin', DATABASE_PASSWORD: 'x', NODE_ENV: 'production', ...k8s, ...libraries };
    expect(unknownVariables(env, ['PORT', 'NODE_ENV', 'TZ', 'MAX_BODY_BYTE', 'CONTEXT_TOKEN', 'PGPASSWORD', 'PGSSLMODE', ...Object.keys(libraries)])).toEqual([
      { name: 'CONTEXT_TOKEN', suggestion: 'CONTEXT_TOKENS' },
      { name: 'MAX_BODY_BYTE', suggestion: 'MAX_BODY_BYTES' },
      { name: 'OPENAI_KEY', suggestion: 'OPENAI_API_KEY' },
      { name: 'OPENAI_ORG', suggestion: 'OPENAI_ORG_ID' },
      { name: 'OPENAI_ORGANIZATION' },
      { name: 'SLACK_BOT_TOKN', suggestion: 'SLACK_BOT_TOKEN' },
      { name: 'TELEGRAM_TOKEN', suggestion: 'TELEGRAM_BOT_TOKEN' },
    ]);
    expect(describeUnknown({ name: 'TELEGRAM_TOKEN', suggestion: 'TELEGRAM_BOT_TOKEN' })).toBe('TELEGRAM_TOKEN is not a charbridge setting and is ignored: did you mean TELEGRAM_BOT_TOKEN?');
    expect(describeUnknown({ name: 'OPENAI_ORGANIZATION' })).toBe('OPENAI_ORGANIZATION is not a charbridge setting and is ignored (see .env.example for every setting).');
  });

  it('takes the proxy settings as settings, in either case, and suggests them for a typo', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'http://proxy:3128', ALL_PROXY: '', no_proxy: 'localhost' };
    expect(unknownVariables(env, ['HTTPS_PROXY', 'http_proxy', 'ALL_PROXY', 'no_proxy', 'HTTPS_PROXI'])).toEqual([{ name: 'HTTPS_PROXI', suggestion: 'HTTPS_PROXY' }]);
  });

  it("says what Node reads before .env is loaded does nothing there", () => {
    expect(unknownVariables({ NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem' }, ['NODE_EXTRA_CA_CERTS', 'NODE_ENV', 'TZ'])).toEqual([{ name: 'NODE_EXTRA_CA_CERTS', tooLate: true }]);
    // Set in the environment only, it works, and nothing is said.
    expect(unknownVariables({ NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem', NODE_OPTIONS: '--max-old-space-size=512' }, [])).toEqual([]);
    expect(describeUnknown({ name: 'NODE_EXTRA_CA_CERTS', tooLate: true })).toBe(
      'NODE_EXTRA_CA_CERTS in .env does nothing: Node reads it as it starts, before .env is loaded. Set it in the environment charbridge is started with.',
    );
  });

  it('finds nothing to warn about in what .env.example lists', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const names = [...example.matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(names).toContain('OPENAI_ORG_ID');
    expect(unknownVariables({}, names)).toEqual([]);
  });

  it('reads the names a .env file sets, and none when there is no file', () => {
    dir = mkdtempSync(join(tmpdir(), 'cb-env-'));
    writeFileSync(join(dir, '.env'), '# a comment\nPORT=3001\nTELEGRAM_TOKEN="123:abc"\n\nexport_me=1\n');
    expect(envFileKeys(join(dir, '.env'))).toEqual(['PORT', 'TELEGRAM_TOKEN', 'export_me']);
    expect(envFileKeys(join(dir, 'missing.env'))).toEqual([]);
  });

  it('puts them first in the banner\'s next steps', () => {
    const steps = nextSteps({ url: 'http://x', adminKey: { key: 'k', origin: 'env', file: null }, model: { label: 'm', offline: false }, platforms: [{ platform: 'telegram', mode: 'polling' }], ignored: ['A is not a charbridge setting and is ignored: did you mean B?'] });
    expect(steps[0]).toBe('Fix .env or the environment: A is not a charbridge setting and is ignored: did you mean B?');
  });
});

it('`npm start` with a typo in .env warns about it, naming the setting it meant', async () => {
  dir = mkdtempSync(join(tmpdir(), 'cb-env-start-'));
  writeFileSync(join(dir, 'charbridge.env'), 'TELEGRAM_TOKEN=123:abc\nLOG_LEVEL=info\n');
  child = await launchInstance({ DOTENV_CONFIG_PATH: join(dir, 'charbridge.env'), DATABASE_URL: join(dir, 'charbridge.db'), LOG_LEVEL: '' });
  await waitFor(() => child!.output().includes('charbridge is running'), 30_000, () => child!.output().slice(-2000));
  const lines = child.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; next?: string[] });
  expect(lines.find((l) => l.msg.startsWith('TELEGRAM_TOKEN'))).toMatchObject({ level: 40, msg: 'TELEGRAM_TOKEN is not a charbridge setting and is ignored: did you mean TELEGRAM_BOT_TOKEN?' });
  expect(lines.find((l) => l.msg === 'charbridge is running')?.next?.[0]).toBe('Fix .env or the environment: TELEGRAM_TOKEN is not a charbridge setting and is ignored: did you mean TELEGRAM_BOT_TOKEN?');
}, 60_000);

it('the CLI warns about a typo in .env too, before its command runs', async () => {
  dir = mkdtempSync(join(tmpdir(), 'cb-env-cli-'));
  writeFileSync(join(dir, 'charbridge.env'), 'OPENAI_APIKEY=sk-test\n');
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', 'list'], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DOTENV_CONFIG_PATH: join(dir, 'charbridge.env'), DATABASE_URL: join(dir, 'charbridge.db') },
  });
  expect(stderr).toContain('Warning: OPENAI_APIKEY is not a charbridge setting and is ignored: did you mean OPENAI_API_KEY?');
  expect(stdout).toContain('No API keys yet');
}, 60_000);
