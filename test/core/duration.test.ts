import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    [30, 30_000],
    ['30', 30_000],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['365d', 365 * 86_400_000],
    ['1500ms', 1500],
  ])('accepts %j as %i ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it.each([
    0,
    -1,
    1.5,
    '0',
    '-5s',
    '1.5s',
    '',
    ' 30s',
    '30 s',
    '30S',
    '5w',
    's',
    'ms',
    '366d',
    '31536001',
    '01s',
    null,
    true,
    {},
    NaN,
    Infinity,
  ])('rejects %j with a reason', (input) => {
    const result = parseDuration(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason.length).toBeGreaterThan(10);
  });
});

describe('formatDuration', () => {
  it.each([
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [90_000, '90s'],
    [1500, '1500ms'],
    [120_000, '2m'],
  ])('formats %i as %s, which parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
});
