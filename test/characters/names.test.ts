import { describe, expect, it } from 'vitest';
import { looksAlike, nameSkeletons } from '../../src/characters/names.js';

describe('look-alike names', () => {
  it('folds case, accents, spacing and confusable letters into one skeleton', () => {
    expect(nameSkeletons('Аria')).toContain('aria'); // Cyrillic А
    expect(nameSkeletons('AIice')).toContain('alice'); // capital I for l
    expect(nameSkeletons('Captain  Rook!')).toContain('captainrook');
    expect(nameSkeletons('Nýx')).toContain('nyx');
  });

  it('calls two different names alike when they read the same, and the same name (any case) not alike', () => {
    expect(looksAlike('Аria', 'Aria')).toBe(true);
    expect(looksAlike('AIice', 'Alice')).toBe(true);
    expect(looksAlike('Captain-Rook', 'Captain Rook')).toBe(true);
    expect(looksAlike('ARIA', 'Aria')).toBe(false);
    expect(looksAlike('Arianna', 'Aria')).toBe(false);
    expect(looksAlike('Nyx', 'Nox')).toBe(false);
  });
});
