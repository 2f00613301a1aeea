/**
 * The Redis change feed: the scripts that change entries SPUBLISH on the
 * namespace's shard channel `prefix:{ns}#changes` (see entry-scripts.ts); this
 * module subscribes with SSUBSCRIBE on connections of its own, shared by every
 * subscriber of the port. SPUBLISH rather than PUBLISH also on a single Redis
 * (7.0+ has sharded pub/sub there too): one script text for both deployments.
 *
 * On a single Redis that is one connection (a duplicate of the port's client,
 * named `cacheport-feed:<prefix>` so an operator or a test can find it). On a
 * Redis Cluster a shard channel is served by the master owning its slot, so
 * the feed keeps one connection per master that owns a subscribed channel; it
 * finds the master from the port client's slot map (`cluster.slots`, see
 * key-slot.ts). We do not use ioredis's `shardedSubscribers` mode: it is a
 * Cluster-wide option (the port's own client would change behaviour), and it
 * resubscribes silently, while the feed must report every gap as `down`.
 *
 * Pub/sub is at-most-once: a message published while a connection is down is
 * lost. So any dropped connection (CLIENT KILL, server restart, failover, a
 * heartbeat PING left unanswered) is reported to every subscriber at once
 * (`down`), all connections are closed, and the feed reconnects with backoff
 * (re-resolving each channel's master), resubscribes, then reports `up`.
 */
import { Cluster, Redis } from 'ioredis';
import { BackendUnavailableError } from '../../core/errors.js';
import type { BackoffRange } from '../../core/reconnect-schedule.js';
import { ReconnectingFeed } from '../../core/reconnecting-feed.js';
import { withTimeout } from '../../core/timeout.js';
import { parseRedisChange } from './change-payload.js';
import type { RedisClient } from './connection.js';
import { keySlot } from './key-slot.js';

export interface RedisChangeFeedOptions {
  /** The port's client: duplicated on a single Redis, its slot map read on a cluster. */
  redis: RedisClient;
  /** REDIS_PREFIX, for the connection name. */
  prefix: string;
  /** The namespace's channel (namespaceKeys(ctx, ns).changes). */
  channel(ns: string): string;
  /** Bound on connecting, subscribing and the heartbeat. */
  timeoutMs: number;
  /** How often each connection is pinged (default 5 s). */
  heartbeatMs?: number;
  /** First and largest reconnect delay (defaults 100 ms, 5 s). */
  backoffMs?: BackoffRange;
}

/** The key of the single-node connection in `links`. */
const SINGLE = 'single';

export class RedisChangeFeed extends ReconnectingFeed {
  /** Subscriber connections by master (`host:port`, or SINGLE). */
  private links = new Map<string, Redis>();
  /** Subscribed (acknowledged) channels → namespace, and each one's connection. */
  private readonly subscribed = new Map<string, { ns: string; link: Redis }>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly options: RedisChangeFeedOptions) {
    super(options.backoffMs, options.heartbeatMs);
  }

  async close(): Promise<void> {
    this.shutDown();
    this.dropLinks();
  }

  protected override listenTo(ns: string): Promise<void> {
    return this.subscribe(ns);
  }

  protected override subscribeError(error: unknown): unknown {
    return error instanceof BackendUnavailableError
      ? error
      : new BackendUnavailableError(`the change feed could not subscribe: ${(error as Error).message}`, { cause: error });
  }

  /** A failover moves slots: let the cluster client learn the new masters before reconnecting. */
  protected override beforeRetry(): void {
    const { redis } = this.options;
    if (redis instanceof Cluster) redis.refreshSlotsCache();
  }

  /** Every namespace with listeners subscribed, then live. */
  protected async open(): Promise<void> {
    try {
      await Promise.all(this.listeners.namespaces().map((ns) => this.subscribe(ns)));
    } catch (error) {
      this.dropLinks();
      throw new BackendUnavailableError(`the change feed could not subscribe: ${(error as Error).message}`, { cause: error });
    }
    if (this.closed) {
      this.dropLinks();
      throw new BackendUnavailableError('the change feed is closed');
    }
    this.becameLive(() => this.heartbeat());
  }

  /** SSUBSCRIBEs the namespace's channel on its master's connection; resolves once acknowledged. */
  private subscribe(ns: string): Promise<void> {
    const channel = this.options.channel(ns);
    if (this.subscribed.has(channel)) return Promise.resolve();
    let attempt = this.pending.get(channel);
    if (attempt === undefined) {
      attempt = withTimeout(this.subscribeOn(ns, channel), this.options.timeoutMs, 'feed subscribe').finally(() => {
        this.pending.delete(channel);
      });
      this.pending.set(channel, attempt);
    }
    return attempt;
  }

  private async subscribeOn(ns: string, channel: string): Promise<void> {
    const link = await this.link(await this.masterOf(channel));
    // Registered before the acknowledgement: a message right behind it is dispatched, not dropped.
    this.subscribed.set(channel, { ns, link });
    try {
      await link.ssubscribe(channel);
      if (this.keyOf(link) === '') throw new Error('the feed connection closed while subscribing');
    } catch (error) {
      if (this.subscribed.get(channel)?.link === link) this.subscribed.delete(channel);
      throw error;
    }
  }

  /** Stops listening to a namespace nobody subscribes to any more (best effort). */
  protected override release(ns: string): void {
    const channel = this.options.channel(ns);
    const entry = this.subscribed.get(channel);
    if (entry === undefined) return;
    this.subscribed.delete(channel);
    entry.link.sunsubscribe(channel).catch(() => {});
  }

  /** The master serving `channel`'s slot: SINGLE on a single Redis. */
  private async masterOf(channel: string): Promise<string> {
    const { redis } = this.options;
    if (!(redis instanceof Cluster)) return SINGLE;
    // The slot map is known once the cluster client is ready (the caller bounds this wait).
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const slot = keySlot(channel);
    const node = redis.slots[slot]?.[0];
    if (node === undefined) throw new Error(`no cluster node serves slot ${slot}`);
    return node;
  }

  private keyOf(link: Redis): string {
    for (const [key, value] of this.links) if (value === link) return key;
    return '';
  }

  /** The subscriber connection to `node`, opened on first use. */
  private async link(node: string): Promise<Redis> {
    const existing = this.links.get(node);
    if (existing !== undefined) {
      if (existing.status !== 'ready')
        await new Promise<void>((resolve, reject) => {
          existing.once('ready', resolve);
          existing.once('close', () => reject(new Error('the feed connection closed')));
        });
      return existing;
    }
    const overrides = {
      lazyConnect: true,
      // Reconnecting is the feed's job: every gap must be reported as `down`.
      retryStrategy: () => null,
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectionName: feedConnectionName(this.options.prefix),
      connectTimeout: Math.max(this.options.timeoutMs, 1000),
      commandTimeout: this.options.timeoutMs,
    };
    const { redis } = this.options;
    let link: Redis;
    if (redis instanceof Cluster) {
      const [host, port] = splitNode(node);
      link = new Redis({ ...redis.options.redisOptions, host, port, ...overrides });
    } else {
      link = redis.duplicate(overrides);
    }
    this.links.set(node, link);
    link.on('error', () => {});
    link.on('smessage', (channel: string, message: string) => this.dispatch(channel, message));
    link.on('close', () => {
      if (this.links.get(node) === link) this.lost(new BackendUnavailableError('the change feed connection closed'));
    });
    await link.connect();
    return link;
  }

  private heartbeat(): void {
    for (const link of this.links.values()) {
      withTimeout(
        link.ping().then(() => undefined),
        this.options.timeoutMs,
        'feed heartbeat',
      ).catch((error: unknown) => {
        if (this.keyOf(link) === '') return; // already replaced
        this.lost(new BackendUnavailableError(`the change feed heartbeat failed: ${(error as Error).message}`));
      });
    }
  }

  private dropLinks(): void {
    const links = [...this.links.values()];
    this.links = new Map();
    this.subscribed.clear();
    for (const link of links) link.disconnect();
  }

  /** A connection is gone: close them all, then report and retry (ReconnectingFeed). */
  private lost(error: Error): void {
    this.stopHeartbeat();
    this.dropLinks();
    this.wentDown(error);
  }

  private dispatch(channel: string, message: string): void {
    const entry = this.subscribed.get(channel);
    if (entry === undefined) return;
    const change = parseRedisChange(message, entry.ns);
    if (change !== undefined) this.listeners.emit(change);
  }
}

/** `cacheport-feed:<prefix>`: Redis client names allow no spaces, so those (and other odd bytes) become `_`. */
export function feedConnectionName(prefix: string): string {
  return `cacheport-feed:${prefix}`.replace(/[^\x21-\x7e]/g, '_');
}

function splitNode(node: string): [string, number] {
  const colon = node.lastIndexOf(':');
  return [node.slice(0, colon), Number(node.slice(colon + 1))];
}
