import { describe, expect, it } from 'vitest';
import { OwedWrites } from '../../src/core/owed-writes.js';
import { dropped } from '../helpers/dropped-connection.js';

describe('OwedWrites', () => {
  it('tries each owed write in order until it lands; an unreachable database stops the round, a write failing on its own does not', async () => {
    const owed = new OwedWrites();
    const landed: string[] = [];
    let down = true;
    let broken = true;
    owed.owe('a', async () => {
      if (broken) throw new Error('its own fault');
      landed.push('a');
    });
    owed.owe('b', async () => void landed.push('b'));
    owed.owe('c', async () => {
      if (down) throw dropped();
      landed.push('c');
    });
    owed.owe('d', async () => void landed.push('d'));
    // 'a' fails on its own and stays owed; 'b' lands; 'c' finds the database down, so 'd' waits.
    expect(await owed.settle()).toBe(3);
    expect(landed).toEqual(['b']);
    down = false;
    broken = false;
    expect(await owed.settle()).toBe(0);
    expect(landed).toEqual(['b', 'a', 'c', 'd']);
    expect(await owed.settle()).toBe(0); // nothing is written twice
    expect(landed).toHaveLength(4);
  });

  it('keeps the later write owed under a key, and runs one settling at a time', async () => {
    const owed = new OwedWrites();
    const landed: string[] = [];
    owed.owe('k', async () => void landed.push('first'));
    owed.owe('k', async () => void landed.push('second'));
    const [x, y] = await Promise.all([owed.settle(), owed.settle()]);
    expect([x, y]).toEqual([0, 0]);
    expect(landed).toEqual(['second']);
  });
});
