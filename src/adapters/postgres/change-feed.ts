/**
 * The Postgres change feed: one dedicated LISTEN connection per port, shared
 * by every subscriber. The NOTIFYs come from the triggers of migration 0007
 * (delivered at commit, never for a rolled-back write). A dropped connection
 * is reported to every subscriber (`down`), retried with backoff and reported
 * back (`up`); a heartbeat catches a connection that died silently.
 */
import type postgres from 'postgres';
import { BackendUnavailableError } from '../../core/errors.js';
import { isChangeOp, isStringArray, readChangeFields } from '../../core/change-payload.js';
import type { Change } from '../../core/port.js';
import type { BackoffRange } from '../../core/reconnect-schedule.js';
import { ReconnectingFeed } from '../../core/reconnecting-feed.js';
import { withTimeout } from '../../core/timeout.js';
import { openListenConnection } from './listen-connection.js';

/** The one channel the triggers notify on; payloads carry their schema ("s"). */
export const CHANGE_CHANNEL = 'cacheport_changes';

export interface PgChangeFeedOptions {
  url: string;
  schema: string;
  /** Bound on connecting and on the heartbeat query. */
  timeoutMs: number;
  /** How often the idle connection is checked (default 5 s). */
  heartbeatMs?: number;
  /** First and largest reconnect delay (defaults 100 ms, 5 s). */
  backoffMs?: BackoffRange;
}

/** Parses one payload; undefined for another install's schema or a payload this version does not know. */
export function parseChangePayload(payload: string, schema: string): Change | undefined {
  const fields = readChangeFields(payload);
  if (fields === undefined) return undefined;
  const { s, ns, op, keys } = fields;
  if (s !== schema || typeof ns !== 'string' || !isChangeOp(op)) return undefined;
  const change: Change = { ns, op };
  if (isStringArray(keys)) change.keys = keys;
  return change;
}

export class PgChangeFeed extends ReconnectingFeed {
  private client: postgres.Sql | undefined;

  constructor(private readonly options: PgChangeFeedOptions) {
    super(options.backoffMs, options.heartbeatMs);
  }

  async close(): Promise<void> {
    this.shutDown();
    const client = this.client;
    this.client = undefined;
    await client?.end({ timeout: 0 });
  }

  protected async open(): Promise<void> {
    let client: postgres.Sql;
    let adopted: postgres.Sql | undefined;
    try {
      client = await openListenConnection({
        url: this.options.url,
        timeoutMs: this.options.timeoutMs,
        channel: CHANGE_CHANNEL,
        // The schema in the name lets an operator (and a test) find this install's feed connection.
        applicationName: `cacheport-feed ${this.options.schema}`,
        what: 'the change feed',
        adopt: (opened) => {
          adopted = opened;
          this.client = opened;
        },
        onNotify: (from, payload) => {
          if (from === this.client) this.dispatch(payload);
        },
        onClose: (from) => {
          if (from === this.client) this.lost(new BackendUnavailableError('the change feed connection closed'));
        },
      });
    } catch (error) {
      if (this.client === adopted) this.client = undefined;
      throw error;
    }
    if (this.closed || this.client !== client) {
      void client.end({ timeout: 0 }).catch(() => {});
      throw new BackendUnavailableError('the change feed is closed');
    }
    this.becameLive(() => this.heartbeat(client));
  }

  private heartbeat(client: postgres.Sql): void {
    withTimeout(
      client`SELECT 1`.then(() => undefined),
      this.options.timeoutMs,
      'feed heartbeat',
    ).catch((error: unknown) => {
      if (client === this.client) this.lost(new BackendUnavailableError(`the change feed heartbeat failed: ${(error as Error).message}`));
    });
  }

  /** The connection is gone: drop it, then report and retry (ReconnectingFeed). */
  private lost(error: Error): void {
    const client = this.client;
    this.client = undefined;
    this.stopHeartbeat();
    void client?.end({ timeout: 0 }).catch(() => {});
    this.wentDown(error);
  }

  private dispatch(payload: string): void {
    const change = parseChangePayload(payload, this.options.schema);
    if (change !== undefined) this.listeners.emit(change);
  }
}
