/** `npm run cli -- characters import|export`: cards in and out from the operator's terminal, against a real SQLite file. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { readCardFile, readPngChunks, readPngTexts } from '../../src/cards/index.js';
import { openStore } from '../../src/store/index.js';
import { readFixture } from '../fixtures/cards/make.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cb-cards-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCli(args, { DATABASE_URL: join(dir, 'charbridge.db'), LOG_LEVEL: 'silent' }, (l) => lines.push(l));
  return { code, lines };
}

describe('cli characters', () => {
  it('imports a card as the admin’s character and exports it back in every format', async () => {
    const png = join(dir, 'marisol.png');
    writeFileSync(png, readFixture('marisol.v2.png'));
    const imported = await cli(['characters', 'import', png]);
    expect(imported).toEqual({ code: 0, lines: [expect.stringMatching(/^Imported Marisol Vane as marisol-vane \(char_/)] });

    const store = await openStore(join(dir, 'charbridge.db'));
    const c = await store.characters.findVisible('marisol-vane', 'admin');
    await store.close();
    expect(c).toMatchObject({ ownerId: 'admin', fromCard: true });

    const original = readCardFile(readFixture('marisol.v2.png')).card;
    for (const ext of ['png', 'json', 'charx']) {
      const file = join(dir, `out.${ext}`);
      const exported = await cli(['characters', 'export', 'marisol-vane', file]);
      expect(exported.code, exported.lines.join('\n')).toBe(0);
      const back = readCardFile(readFileSync(file)).card;
      expect({ ...back, assets: undefined }).toEqual({ ...original, assets: undefined });
      if (ext === 'png') expect(readPngTexts(readPngChunks(readFileSync(file))).map((t) => t.keyword).sort()).toEqual(['ccv3', 'chara']);
    }
  });

  it('says what is wrong with a broken card or a file name without a format', async () => {
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'not a card');
    await expect(cli(['characters', 'import', bad])).rejects.toThrow(/bad\.png: .*\(NOT_A_CARD_FILE\)/);
    await expect(cli(['characters', 'export', 'aria', join(dir, 'aria.gif')])).rejects.toThrow(/\.png, \.json or \.charx/);
    expect((await cli(['characters', 'frobnicate'])).code).toBe(64);
  });
});
