/**
 * The Postgres change feed: one dedicated LISTEN connection per port, shared
 * by every subscriber. The NOTIFYs come from the triggers of migration 0007
 * (delivered at commit, never for a rolled-back write). A dropped connection
 * is reported to every subscriber (`down`), retried with backoff and reported
 * back (`up`); a heartbeat catches a connection that died silently.
 */
import postgres from 'postgres';
import { BackendUnavailableError } from '../../core/errors.js';
import { isChangeOp, isStringArray, readChangeFields } from '../../core/change-payload.js';
import { FeedListeners, type FeedListener } from '../../core/feed-listeners.js';
import type { Change, ChangeFeed, ChangeSubscription } from '../../core/port.js';
import { ReconnectSchedule, type BackoffRange } from '../../core/reconnect-schedule.js';
import { withTimeout } from '../../core/timeout.js';
import { validateNamespace } from '../../core/validation.js';

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

export class PgChangeFeed implements ChangeFeed {
  private readonly listeners = new FeedListeners();
  private client: postgres.Sql | undefined;
  private live = false;
  private closed = false;
  private connecting: Promise<void> | undefined;
  private readonly retries: ReconnectSchedule;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Times the feed came back after being down (for observability). */
  reconnects = 0;

  constructor(private readonly options: PgChangeFeedOptions) {
    this.retries = new ReconnectSchedule(options.backoffMs);
  }

  changes = async (ns: string, onEvent: FeedListener): Promise<ChangeSubscription> => {
    validateNamespace(ns);
    if (this.closed) throw new BackendUnavailableError('the change feed is closed');
    const listener = this.listeners.add(ns, onEvent);
    const unsubscribe = (): void => {
      this.listeners.remove(ns, listener);
    };
    try {
      await this.connect();
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return { unsubscribe };
  };

  isLive(): boolean {
    return this.live;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retries.cancel();
    clearInterval(this.heartbeatTimer);
    this.listeners.clear();
    const client = this.client;
    this.client = undefined;
    this.live = false;
    await client?.end({ timeout: 0 });
  }

  /** Makes the feed live (or joins the attempt in progress). */
  private connect(): Promise<void> {
    if (this.live) return Promise.resolve();
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    this.retries.cancel();
    // onnotify is a postgres.js option its type declarations leave out (its own listen() uses it).
    const clientOptions: postgres.Options<Record<string, never>> & { onnotify(channel: string, payload: string): void } = {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: Math.max(1, Math.ceil(this.options.timeoutMs / 1000)),
      onnotice: () => {},
      onnotify: (channel, payload) => {
        if (client === this.client && channel === CHANGE_CHANNEL) this.dispatch(payload);
      },
      onclose: () => {
        if (client === this.client) this.lost(new BackendUnavailableError('the change feed connection closed'));
      },
      // The schema in the name lets an operator (and a test) find this install's feed connection.
      connection: { application_name: `cacheport-feed ${this.options.schema}`.slice(0, 63) },
    };
    const client = postgres(this.options.url, clientOptions);
    this.client = client;
    try {
      await withTimeout(
        client.unsafe(`LISTEN ${CHANGE_CHANNEL}`).then(() => undefined),
        this.options.timeoutMs,
        'listen',
      );
    } catch (error) {
      if (this.client === client) this.client = undefined;
      void client.end({ timeout: 0 }).catch(() => {});
      throw new BackendUnavailableError(`the change feed could not listen: ${(error as Error).message}`, { cause: error });
    }
    if (this.closed || this.client !== client) {
      void client.end({ timeout: 0 }).catch(() => {});
      throw new BackendUnavailableError('the change feed is closed');
    }
    const wasDown = this.retries.failing;
    this.live = true;
    this.retries.reset();
    this.startHeartbeat(client);
    if (wasDown) {
      this.reconnects++;
      this.listeners.emitAll({ type: 'up' });
    }
  }

  private startHeartbeat(client: postgres.Sql): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      withTimeout(
        client`SELECT 1`.then(() => undefined),
        this.options.timeoutMs,
        'feed heartbeat',
      ).catch((error: unknown) => {
        if (client === this.client) this.lost(new BackendUnavailableError(`the change feed heartbeat failed: ${(error as Error).message}`));
      });
    }, this.options.heartbeatMs ?? 5000);
    this.heartbeatTimer.unref();
  }

  /** The connection is gone: tell every subscriber, then retry with backoff. */
  private lost(error: Error): void {
    const client = this.client;
    this.client = undefined;
    clearInterval(this.heartbeatTimer);
    void client?.end({ timeout: 0 }).catch(() => {});
    const wasLive = this.live;
    this.live = false;
    if (this.closed) return;
    if (wasLive) this.listeners.emitAll({ type: 'down', error });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.listeners.isEmpty()) {
      // Nobody to tell: the next subscriber connects again.
      this.retries.reset();
      return;
    }
    this.retries.schedule(() => {
      this.connect().catch(() => this.scheduleRetry());
    });
  }

  private dispatch(payload: string): void {
    const change = parseChangePayload(payload, this.options.schema);
    if (change !== undefined) this.listeners.emit(change);
  }
}
