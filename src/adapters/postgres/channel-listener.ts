/**
 * The LISTEN connection of a port's channel subscribers: one per port,
 * shared by every subscription, on the NOTIFY channel the publish statement
 * wakes (channels.ts). A NOTIFY only says "channel X has news"; the hub then
 * reads the messages from the table, so a NOTIFY lost while the connection
 * was down costs nothing: after reconnecting, every subscribed channel is
 * read from its subscribers' cursors (`reconnected`).
 *
 * Separate from the change feed's connection (change-feed.ts): that feed
 * reports down/up to namespace subscribers and replays nothing, while a
 * channel subscriber never hears of the connection, only of `gap`.
 */
import type postgres from 'postgres';
import { BackendUnavailableError } from '../../core/errors.js';
import { ReconnectSchedule, type BackoffRange } from '../../core/reconnect-schedule.js';
import { withTimeout } from '../../core/timeout.js';
import { openListenConnection } from './listen-connection.js';

/** The NOTIFY channel of every install; payloads carry their schema ("s") and channel ("c"). */
export const CHANNEL_NOTIFY = 'cacheport_channels';

export interface PgChannelListenerOptions {
  url: string;
  schema: string;
  /** Bound on connecting and on the heartbeat query. */
  timeoutMs: number;
  /** How often the idle connection is checked (default 5 s). */
  heartbeatMs?: number;
  /** First and largest reconnect delay (defaults 100 ms, 5 s). */
  backoffMs?: BackoffRange;
}

export interface PgChannelListenerHandlers {
  /** A NOTIFY for this install's `channel`. */
  wake(channel: string): void;
  /** Live again after the connection was lost: read everything subscribed. */
  reconnected(): void;
  /** Whether anyone still subscribes (a lost connection is retried only then). */
  wanted(): boolean;
}

/** The connection's application_name, by which an operator (or a test) finds it. */
export function channelListenerName(schema: string): string {
  return `cacheport-channels ${schema}`.slice(0, 63);
}

/** The channel a payload wakes, or undefined for another install's schema or a malformed payload. */
export function parseChannelNotify(payload: string, schema: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { s, c } = parsed as { s?: unknown; c?: unknown };
    return s === schema && typeof c === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

export class PgChannelListener {
  private client: postgres.Sql | undefined;
  private live = false;
  private closed = false;
  private connecting: Promise<void> | undefined;
  private readonly retries: ReconnectSchedule;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: PgChannelListenerOptions,
    private readonly handlers: PgChannelListenerHandlers,
  ) {
    this.retries = new ReconnectSchedule(options.backoffMs);
  }

  /** Resolves once NOTIFYs are received; rejects with BackendUnavailableError when the connection cannot be made. */
  ensureLive(): Promise<void> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('the port is closed'));
    if (this.live) return Promise.resolve();
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** The connection failed (closed, or its heartbeat did): drop it and retry with backoff. */
  lost(): void {
    const client = this.client;
    this.client = undefined;
    this.live = false;
    clearInterval(this.heartbeatTimer);
    void client?.end({ timeout: 0 }).catch(() => {});
    this.scheduleRetry();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    this.retries.cancel();
    clearInterval(this.heartbeatTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end({ timeout: 0 });
  }

  private scheduleRetry(): void {
    if (this.closed || !this.handlers.wanted()) {
      // Nobody to deliver to: the next subscriber connects again (and reads from its own cursor).
      this.retries.reset();
      return;
    }
    this.retries.schedule(() => {
      this.ensureLive().catch(() => this.scheduleRetry());
    });
  }

  private async open(): Promise<void> {
    this.retries.cancel();
    let client: postgres.Sql;
    let adopted: postgres.Sql | undefined;
    try {
      client = await openListenConnection({
        url: this.options.url,
        timeoutMs: this.options.timeoutMs,
        channel: CHANNEL_NOTIFY,
        applicationName: channelListenerName(this.options.schema),
        what: 'channel subscribers',
        adopt: (opened) => {
          adopted = opened;
          this.client = opened;
        },
        onNotify: (from, payload) => {
          if (from !== this.client) return;
          const name = parseChannelNotify(payload, this.options.schema);
          if (name !== undefined) this.handlers.wake(name);
        },
        onClose: (from) => {
          if (from === this.client) this.lost();
        },
      });
    } catch (error) {
      if (this.client === adopted) this.client = undefined;
      throw error;
    }
    if (this.closed || this.client !== client) {
      void client.end({ timeout: 0 }).catch(() => {});
      throw new BackendUnavailableError('the port is closed');
    }
    const wasDown = this.retries.failing;
    this.live = true;
    this.retries.reset();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(client), this.options.heartbeatMs ?? 5000);
    this.heartbeatTimer.unref();
    if (wasDown) this.handlers.reconnected();
  }

  private heartbeat(client: postgres.Sql): void {
    withTimeout(
      client`SELECT 1`.then(() => undefined),
      this.options.timeoutMs,
      'channel listener heartbeat',
    ).catch(() => {
      if (client === this.client) this.lost();
    });
  }
}
