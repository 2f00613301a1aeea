/**
 * Model-based property test: random sequences of entry operations run against
 * the adapter and the in-memory model, comparing every result. Keys are a
 * small alphabet full of LIKE/glob metacharacters so prefixes overlap; no
 * ttls (time is not modelled). Seeded, so runs are reproducible.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntegerOverflowError, NotAnIntegerError } from '../../src/core/errors.js';
import type { CacheEntry, CachePort, WriteCondition } from '../../src/core/port.js';
import { caught, type ContractContext } from './context.js';
import { EntriesModel, type ModelCondition } from './model.js';

const TEXT_KEYS = ['a', 'a%', 'a%b', 'a_', 'ab', 'a\\', 'a\\b', '%', '_x', 'b', 'é', 'e\u0301'];
/** Counters are never tagged, so an increment never has to guess what happens to tags. */
const COUNTER_KEYS = ['n%1', 'n_2', 'a_n'];
const ALL_KEYS = [...TEXT_KEYS, ...COUNTER_KEYS];
const PREFIXES = ['a', 'a%', 'a_', 'a\\', '%', '_', 'ab', 'n', 'n%', 'b', 'e', 'x', 'é'];
const TAGS = ['t1', 't2', 't%'];
/** None is an integer: counters are written by setCounter only. */
const TEXT_VALUES = ['', 'v', 'value', 'x%_', '1.5', 'abc'];
const COUNTER_VALUES = ['0', '7', '-3', '9223372036854775800', '-9223372036854775800', 'abc', ''];
const INCREMENTS = [1n, -1n, 5n, 100n, 2n ** 62n, -(2n ** 62n)];

type ConditionChoice = 'always' | 'absent' | 'present' | 'etag-current' | 'etag-stale';

type Command =
  | { op: 'set'; key: string; value: string; tags: string[]; contentType: string | undefined; condition: ConditionChoice }
  | { op: 'setCounter'; key: string; value: string; condition: ConditionChoice }
  | { op: 'get'; key: string }
  | { op: 'getMany'; keys: string[] }
  | { op: 'has'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'deleteMany'; keys: string[] }
  | { op: 'increment'; key: string; by: bigint }
  | { op: 'deleteByPrefix'; prefix: string }
  | { op: 'invalidateTags'; tags: string[] }
  | { op: 'clear' };

const conditionArb = fc.constantFrom<ConditionChoice>('always', 'always', 'absent', 'present', 'etag-current', 'etag-stale');

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key: fc.constantFrom(...TEXT_KEYS),
      value: fc.constantFrom(...TEXT_VALUES),
      tags: fc.subarray(TAGS),
      contentType: fc.constantFrom(undefined, 'text/plain'),
      condition: conditionArb,
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('setCounter' as const),
      key: fc.constantFrom(...COUNTER_KEYS),
      value: fc.constantFrom(...COUNTER_VALUES),
      condition: conditionArb,
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...ALL_KEYS) }), weight: 3 },
  {
    arbitrary: fc.record({ op: fc.constant('getMany' as const), keys: fc.array(fc.constantFrom(...ALL_KEYS), { maxLength: 4 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('has' as const), key: fc.constantFrom(...ALL_KEYS) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...ALL_KEYS) }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('deleteMany' as const), keys: fc.array(fc.constantFrom(...ALL_KEYS), { maxLength: 4 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant('increment' as const), key: fc.constantFrom(...ALL_KEYS), by: fc.constantFrom(...INCREMENTS) }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('deleteByPrefix' as const), prefix: fc.constantFrom(...PREFIXES) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('invalidateTags' as const), tags: fc.subarray(TAGS, { minLength: 1 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('clear' as const) }), weight: 1 },
);

const SEED = Number(process.env.CONTRACT_SEED ?? 20240607);
const RUNS = Number(process.env.CONTRACT_RUNS ?? 30);
const MAX_COMMANDS = 30;

/** Runs one command on both sides and asserts they agree; `step` names it in failures. */
async function runCommand(port: CachePort, ns: string, model: EntriesModel, command: Command, step: string): Promise<void> {
  /** An unknown ETag (after an increment) is read once so conditions can use it. */
  async function knownEtag(key: string): Promise<string | undefined> {
    const entry = model.get(key);
    if (entry !== undefined && entry.etag === undefined) compareEntry(key, await port.get(ns, key));
    return model.get(key)?.etag;
  }

  function compareEntry(key: string, actual: CacheEntry | undefined): void {
    const expected = model.get(key);
    if (expected === undefined) {
      expect(actual, `${step}: ${JSON.stringify(key)} should be absent`).toBeUndefined();
      return;
    }
    expect(actual, `${step}: ${JSON.stringify(key)} should be present`).toBeDefined();
    const entry = actual as CacheEntry;
    expect(entry.value.toString('hex'), `${step}: value of ${JSON.stringify(key)}`).toBe(expected.value.toString('hex'));
    expect([...entry.tags].sort(), `${step}: tags of ${JSON.stringify(key)}`).toEqual(expected.tags);
    expect(entry.expiresAt, `${step}: expiresAt of ${JSON.stringify(key)}`).toBeNull();
    if (expected.contentType !== undefined) expect(entry.contentType, `${step}: content type`).toBe(expected.contentType);
    if (expected.etag !== undefined) {
      expect(entry.etag, `${step}: etag of ${JSON.stringify(key)}`).toBe(expected.etag);
    } else {
      expect(model.isReusedEtag(key, entry.etag), `${step}: an increment must change the etag`).toBe(false);
      model.learnEtag(key, entry.etag);
    }
  }

  async function condition(key: string, choice: ConditionChoice): Promise<ModelCondition> {
    if (choice === 'etag-current') {
      const etag = await knownEtag(key);
      return etag === undefined ? { etag: 'never-issued' } : { etag };
    }
    if (choice === 'etag-stale') {
      const current = await knownEtag(key);
      const stale = model.previousEtags(key).filter((e) => e !== current);
      return { etag: stale[stale.length - 1] ?? 'never-issued' };
    }
    return choice;
  }

  async function set(key: string, value: string, tags: string[], contentType: string | undefined, choice: ConditionChoice): Promise<void> {
    const cond = await condition(key, choice);
    const expected = model.decideSet(key, cond);
    const actual = await port.set(ns, key, value, { ttl: null, tags, contentType, condition: cond as WriteCondition });
    if (!expected.written) {
      expect(actual, `${step}: set should not write`).toEqual({ written: false });
      return;
    }
    expect(actual, `${step}: set should write`).toMatchObject({ written: true, created: expected.created });
    const etag = (actual as { etag: string }).etag;
    expect(model.isReusedEtag(key, etag), `${step}: the new etag must differ from every earlier one`).toBe(false);
    model.applySet(key, Buffer.from(value, 'utf8'), tags, contentType, etag);
  }

  switch (command.op) {
    case 'set':
      return set(command.key, command.value, command.tags, command.contentType, command.condition);
    case 'setCounter':
      return set(command.key, command.value, [], undefined, command.condition);
    case 'get':
      return compareEntry(command.key, await port.get(ns, command.key));
    case 'getMany': {
      const results = await port.getMany(ns, command.keys);
      expect(results, step).toHaveLength(command.keys.length);
      command.keys.forEach((key, i) => compareEntry(key, results[i]));
      return;
    }
    case 'has':
      expect(await port.has(ns, command.key), step).toBe(model.has(command.key));
      return;
    case 'delete':
      expect(await port.delete(ns, command.key), step).toBe(model.delete(command.key));
      return;
    case 'deleteMany':
      expect(await port.deleteMany(ns, command.keys), step).toBe(model.deleteMany(command.keys));
      return;
    case 'increment': {
      const expected = model.increment(command.key, command.by);
      let value: bigint | undefined;
      const thrown = await caught(async () => {
        value = await port.increment(ns, command.key, command.by, { ttl: null });
      });
      if (expected.ok) {
        expect(thrown, `${step}: increment should not throw`).toBeUndefined();
        expect(value, step).toBe(expected.value);
      } else {
        expect(thrown, `${step}: increment should throw`).toBeInstanceOf(
          expected.error === 'overflow' ? IntegerOverflowError : NotAnIntegerError,
        );
      }
      return;
    }
    case 'deleteByPrefix':
      expect(await port.deleteByPrefix(ns, command.prefix), step).toBe(model.deleteByPrefix(command.prefix));
      return;
    case 'invalidateTags':
      expect(await port.invalidateTags(ns, command.tags), step).toBe(model.invalidateTags(command.tags));
      return;
    case 'clear':
      expect(await port.clear(ns), step).toBe(model.clear());
      return;
  }
}

export function defineModelSequenceTests(ctx: ContractContext): void {
  describe('model-based sequences', () => {
    it(`${RUNS} random sequences of up to ${MAX_COMMANDS} operations agree with the model (seed ${SEED})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: MAX_COMMANDS }), async (commands) => {
          const port = ctx.port();
          const ns = ctx.ns();
          const model = new EntriesModel();
          for (const [i, command] of commands.entries()) {
            await runCommand(
              port,
              ns,
              model,
              command,
              `step ${i} ${JSON.stringify(command, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`,
            );
          }
          // The final state agrees key by key.
          const finalEntries = await port.getMany(ns, ALL_KEYS);
          for (const [i, key] of ALL_KEYS.entries()) {
            expect(finalEntries[i] === undefined, `final state of ${JSON.stringify(key)}`).toBe(!model.has(key));
          }
        }),
        { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 50_000, markInterruptAsFailure: false },
      );
    }, 120_000);
  });
}
