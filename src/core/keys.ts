/**
 * Literal prefix matching without patterns: every key starting with `prefix`
 * lies in the half-open range [prefix, upper) under byte-wise (UTF-8 / C
 * collation / Redis lex) order, where `upper` is the prefix with its last code
 * point incremented. No LIKE pattern, so `%`, `_` and `\` need no escaping.
 */
const MAX_CODE_POINT = 0x10ffff;

/** Undefined when no upper bound exists (the prefix is all U+10FFFF): scan to the end. */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (ch) => ch.codePointAt(0) as number);
  while (codePoints.length > 0) {
    let last = (codePoints.pop() as number) + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // surrogates have no UTF-8 form
    if (last <= MAX_CODE_POINT) return String.fromCodePoint(...codePoints, last);
  }
  return undefined;
}
