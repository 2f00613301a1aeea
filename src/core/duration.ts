/**
 * Durations, the one parser used by config, HTTP and library alike.
 *
 * Accepted: a positive integer number of seconds (`30` or `"30"`), or an
 * integer with a lowercase unit and no space: `250ms`, `30s`, `5m`, `2h`, `1d`.
 * Rejected: zero, negatives, fractions, empty strings, unknown units, and
 * anything over 365 days.
 */

export const MAX_DURATION_MS = 365 * 24 * 60 * 60 * 1000;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const PATTERN = /^([1-9][0-9]{0,15})(ms|s|m|h|d)?$/;

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

export function parseDuration(input: unknown): DurationResult {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input <= 0) {
      return { ok: false, reason: 'must be a positive whole number of seconds or a string like 250ms, 30s, 5m, 2h, 1d' };
    }
    text = String(input);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    return { ok: false, reason: 'must be a number of seconds or a duration string' };
  }
  const match = PATTERN.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: `${JSON.stringify(text)} is not a duration: use a positive integer with an optional unit ms, s, m, h or d (e.g. 1500ms, 30s)`,
    };
  }
  const unit = (match[2] ?? 's') as Unit;
  const ms = Number(match[1]) * UNIT_MS[unit];
  if (ms > MAX_DURATION_MS) return { ok: false, reason: `${text} is longer than the maximum of 365d` };
  return { ok: true, ms };
}

/** Formats milliseconds in the largest unit that divides them exactly: 3600000 → "1h". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
