/**
 * What both adapters' change feeds do alike around their connections:
 * subscriptions, "live", a heartbeat, and on a lost connection `down` to every
 * subscriber, retries with backoff, then `up`. A subclass opens and checks its
 * own connections.
 */
import { BackendUnavailableError } from './errors.js';
import { FeedListeners, type FeedListener } from './feed-listeners.js';
import type { ChangeFeed, ChangeSubscription } from './port.js';
import { ReconnectSchedule, type BackoffRange } from './reconnect-schedule.js';
import { validateNamespace } from './validation.js';

export abstract class ReconnectingFeed implements ChangeFeed {
  protected readonly listeners = new FeedListeners();
  protected closed = false;
  protected live = false;
  private connecting: Promise<void> | undefined;
  private readonly retries: ReconnectSchedule;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Times the feed came back after being down (for observability). */
  reconnects = 0;

  /** @param heartbeatMs how often the connections are checked (default 5 s). */
  constructor(
    backoffMs: BackoffRange | undefined,
    private readonly heartbeatMs = 5000,
  ) {
    this.retries = new ReconnectSchedule(backoffMs);
  }

  /** Opens the connection(s) and, once they deliver, calls `becameLive`. */
  protected abstract open(): Promise<void>;

  /** After connecting: starts delivering `ns`'s changes (nothing to do when the connection delivers all). */
  protected listenTo(_ns: string): Promise<void> {
    return Promise.resolve();
  }

  /** Nobody listens to `ns` any more. */
  protected release(_ns: string): void {}

  /** The error a failed subscription rejects with. */
  protected subscribeError(error: unknown): unknown {
    return error;
  }

  /** Runs before each reconnect attempt. */
  protected beforeRetry(): void {}

  changes = async (ns: string, onEvent: FeedListener): Promise<ChangeSubscription> => {
    validateNamespace(ns);
    if (this.closed) throw new BackendUnavailableError('the change feed is closed');
    const listener = this.listeners.add(ns, onEvent);
    const unsubscribe = (): void => {
      if (this.listeners.remove(ns, listener)) this.release(ns);
    };
    try {
      await this.connect();
      await this.listenTo(ns);
    } catch (error) {
      unsubscribe();
      throw this.subscribeError(error);
    }
    return { unsubscribe };
  };

  isLive(): boolean {
    return this.live;
  }

  /** Stops timers and forgets every subscriber; the subclass then closes its connections. */
  protected shutDown(): void {
    this.closed = true;
    this.retries.cancel();
    clearInterval(this.heartbeatTimer);
    this.listeners.clear();
    this.live = false;
  }

  /** Makes the feed live (or joins the attempt in progress). */
  protected connect(): Promise<void> {
    if (this.live) return Promise.resolve();
    this.connecting ??= this.attempt().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private attempt(): Promise<void> {
    this.retries.cancel();
    return this.open();
  }

  /** The connections deliver: start `beat` on the heartbeat and report `up` if the feed was down. */
  protected becameLive(beat: () => void): void {
    const wasDown = this.retries.failing;
    this.live = true;
    this.retries.reset();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(beat, this.heartbeatMs);
    this.heartbeatTimer.unref();
    if (wasDown) {
      this.reconnects++;
      this.listeners.emitAll({ type: 'up' });
    }
  }

  protected stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
  }

  /** The connections are gone (the subclass has dropped them): tell every subscriber, then retry with backoff. */
  protected wentDown(error: Error): void {
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
      this.beforeRetry();
      this.connect().catch(() => this.scheduleRetry());
    });
  }
}
