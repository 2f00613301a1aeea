/**
 * Locks as leases on Postgres, in the LOGGED `locks` table: one row per name
 * holds the lease (token hash, expiry) and the last fence issued. Granting a
 * lease bumps the fence in the same upsert, and the row is kept after release,
 * so the fence strictly increases and never repeats, even after a crash or a
 * restart of the database (the table is WAL-logged).
 *
 * Times come from the database clock (clock_timestamp()), so app servers with
 * skewed clocks agree on expiry. Only the SHA-256 of the token is stored.
 */
import type { Lease, LockManager, LockState, ReleaseResult } from '../../core/port.js';
import { hashLeaseToken, newLeaseToken, validateLeaseToken, validateLeaseTtl, validateLockName } from '../../core/lease.js';
import type { PgContext } from './context.js';

interface LeaseRow {
  fence: bigint;
  expires_ms: bigint;
}

/** The row's expiry as epoch ms, rounded down so a holder never thinks it has longer than it has. */
const EXPIRES_MS = 'floor(extract(epoch FROM expires_at) * 1000)::bigint';

export function createPgLockManager(ctx: PgContext): LockManager {
  const { sql } = ctx;
  const expiresMs = sql.unsafe(EXPIRES_MS);

  function toLease(token: string, row: LeaseRow | undefined): Lease | null {
    return row ? { token, fence: Number(row.fence), expiresAt: Number(row.expires_ms) } : null;
  }

  return {
    async acquire(name, options) {
      validateLockName(name);
      validateLeaseTtl(options?.ttl);
      const token = newLeaseToken();
      // Taken when never held, released, or expired; otherwise the WHERE skips the update and no row returns.
      const rows = await ctx.run(
        'acquire',
        () => sql<LeaseRow[]>`
        INSERT INTO locks AS l (name, fence, token_hash, expires_at, acquired_at)
        VALUES (${name}, 1, ${hashLeaseToken(token)},
                clock_timestamp() + ${options.ttl}::bigint * interval '1 millisecond', clock_timestamp())
        ON CONFLICT (name) DO UPDATE
        SET fence = l.fence + 1,
            token_hash = EXCLUDED.token_hash,
            expires_at = EXCLUDED.expires_at,
            acquired_at = EXCLUDED.acquired_at
        WHERE l.token_hash IS NULL OR l.expires_at <= clock_timestamp()
        RETURNING fence, ${expiresMs} AS expires_ms`,
      );
      return toLease(token, rows[0]);
    },

    async extend(name, token, ttl) {
      validateLockName(name);
      validateLeaseToken(token);
      validateLeaseTtl(ttl);
      const rows = await ctx.run(
        'extend',
        () => sql<LeaseRow[]>`
        UPDATE locks
        SET expires_at = clock_timestamp() + ${ttl}::bigint * interval '1 millisecond'
        WHERE name = ${name} AND token_hash = ${hashLeaseToken(token)} AND expires_at > clock_timestamp()
        RETURNING fence, ${expiresMs} AS expires_ms`,
      );
      return toLease(token, rows[0]);
    },

    async release(name, token): Promise<ReleaseResult> {
      validateLockName(name);
      validateLeaseToken(token);
      // One statement: the CTE releases when the token holds a live lease; the
      // outer SELECT classifies a miss from the same snapshot.
      const rows = await ctx.run(
        'release',
        () => sql<{ result: ReleaseResult }[]>`
        WITH released AS (
          UPDATE locks SET token_hash = NULL, expires_at = NULL
          WHERE name = ${name} AND token_hash = ${hashLeaseToken(token)} AND expires_at > clock_timestamp()
          RETURNING name
        )
        SELECT CASE
          WHEN EXISTS (SELECT 1 FROM released) THEN 'released'
          WHEN EXISTS (SELECT 1 FROM locks WHERE name = ${name} AND token_hash IS NOT NULL AND expires_at > clock_timestamp())
            THEN 'wrong_token'
          ELSE 'not_held'
        END AS result`,
      );
      return rows[0]?.result ?? 'not_held';
    },

    async inspectLock(name): Promise<LockState> {
      validateLockName(name);
      const rows = await ctx.run(
        'inspectLock',
        () => sql<{ fence: bigint; held: boolean; expires_ms: bigint | null }[]>`
        SELECT fence, (token_hash IS NOT NULL AND expires_at > clock_timestamp()) AS held, ${expiresMs} AS expires_ms
        FROM locks WHERE name = ${name}`,
      );
      const row = rows[0];
      if (!row) return { held: false, expiresAt: null, fence: null };
      return { held: row.held, expiresAt: row.held && row.expires_ms !== null ? Number(row.expires_ms) : null, fence: Number(row.fence) };
    },
  };
}
