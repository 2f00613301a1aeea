/**
 * The Postgres change feed: one dedicated LISTEN connection per port, shared
 * by every subscriber. The NOTIFYs come from the triggers of migration 0007
 * (delivered at commit, never for a rolled-back write). A dropped connection
 * is reported to every subscriber (`down`), retried with backoff and reported
 * back (`up`); a heartbeat catches a connection that died silently.
 */
import postgres from 'postgres';
import { BackendUnavailableError } from '../../core/errors.js';
import type { Change, ChangeEvent, ChangeFeed, ChangeOp, ChangeSubscription } from '../../core/port.js';
import { validateNamespace } from '../../core/validation.js';
import { withTimeout } from '../../core/timeout.js';
import { getOrCreate } from '../../core/maps.js';

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
  backoffMs?: { min: number; max: number };
}

type Listener = (event: ChangeEvent) => void;

const OPS = new Set<ChangeOp>(['set', 'delete', 'expire', 'prefix', 'tags', 'clear', 'evict']);

/** Parses one payload; undefined for another install's schema or a payload this version does not know. */
export function parseChangePayload(payload: string, schema: string): Change | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { s, ns, op, keys } = parsed as Record<string, unknown>;
  if (s !== schema || typeof ns !== 'string' || !OPS.has(op as ChangeOp)) return undefined;
  const change: Change = { ns, op: op as ChangeOp };
  if (Array.isArray(keys) && keys.every((k): k is string => typeof k === 'string')) change.keys = keys;
  return change;
}

export class PgChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<string, Set<Listener>>();
  private client: postgres.Sql | undefined;
  private live = false;
  private closed = false;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Times the feed came back after being down (for observability). */
  reconnects = 0;

  constructor(private readonly options: PgChangeFeedOptions) {}

  changes = async (ns: string, onEvent: Listener): Promise<ChangeSubscription> => {
    validateNamespace(ns);
    if (this.closed) throw new BackendUnavailableError('the change feed is closed');
    const set = getOrCreate(this.listeners, ns, () => new Set<Listener>());
    const listener: Listener = (event) => onEvent(event);
    set.add(listener);
    const unsubscribe = (): void => {
      const current = this.listeners.get(ns);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(ns);
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
    clearTimeout(this.retryTimer);
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
    clearTimeout(this.retryTimer);
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
    const wasDown = this.failures > 0;
    this.live = true;
    this.failures = 0;
    this.startHeartbeat(client);
    if (wasDown) {
      this.reconnects++;
      this.broadcast({ type: 'up' });
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
    if (wasLive) this.broadcast({ type: 'down', error });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.listeners.size === 0) {
      // Nobody to tell: the next subscriber connects again.
      this.failures = 0;
      return;
    }
    this.failures++;
    const { min, max } = this.options.backoffMs ?? { min: 100, max: 5000 };
    const delay = Math.min(max, min * 2 ** Math.min(this.failures - 1, 16));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().catch(() => this.scheduleRetry());
    }, delay);
    this.retryTimer.unref();
  }

  private dispatch(payload: string): void {
    const change = parseChangePayload(payload, this.options.schema);
    if (change === undefined) return;
    const set = this.listeners.get(change.ns);
    if (set === undefined) return;
    const event: ChangeEvent = { type: 'change', ...change };
    for (const listener of set) listener(event);
  }

  private broadcast(event: ChangeEvent): void {
    for (const set of this.listeners.values()) for (const listener of set) listener(event);
  }
}
