import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { prefixUpperBound } from '../../src/core/keys.js';

/** Byte-wise (UTF-8) comparison: the order of C collation and Redis lex ranges. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function inRange(key: string, prefix: string): boolean {
  const upper = prefixUpperBound(prefix);
  return compareBytes(key, prefix) >= 0 && (upper === undefined || compareBytes(key, upper) < 0);
}

describe('prefixUpperBound', () => {
  it('increments the last code point', () => {
    expect(prefixUpperBound('user:')).toBe('user;');
    expect(prefixUpperBound('a%')).toBe('a&');
    expect(prefixUpperBound('\u{10ffff}')).toBeUndefined();
    expect(prefixUpperBound('a\u{10ffff}')).toBe('b');
    expect(prefixUpperBound('\ud7ff')).toBe('\ue000');
  });

  it('the range [prefix, upper) holds exactly the keys that start with prefix', () => {
    const alphabet = fc.constantFrom('a', 'b', '%', '_', '\\', '\u00ff', '\ud7ff', '\ue000', '\u{10ffff}', '\u{1f600}', ':');
    const text = fc.array(alphabet, { maxLength: 5 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        text.filter((p) => p.length > 0),
        text,
        (prefix, key) => {
          expect(inRange(key, prefix)).toBe(key.startsWith(prefix));
          expect(inRange(prefix + key, prefix)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
