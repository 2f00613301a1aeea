/** A backend server a fault test started itself, so it may crash, stop and restart it. */
export interface ThrowawayServer {
  port: number;
  url: string;
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>;
  /** An immediate stop with no chance to flush (Postgres: pg_ctl -m immediate; Redis: SIGKILL). */
  crash(): Promise<void>;
  /** The server's own clean shutdown (Postgres: -m fast; Redis: SIGTERM). */
  stopClean(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}
