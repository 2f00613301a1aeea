/**
 * One dedicated connection that LISTENs on a fixed channel name. LISTEN needs
 * a session of its own (on the server itself, never through a transaction
 * pooler), so the change feed and the channel subscribers each keep one per
 * port. The caller owns the connection's life: `adopt` hands it over before
 * LISTEN is sent, so notifications and a close during the LISTEN reach the
 * callbacks, which tell their own connection from an older one by identity.
 */
import postgres from 'postgres';
import { BackendUnavailableError } from '../../core/errors.js';
import { withTimeout } from '../../core/timeout.js';

export interface ListenConnectionOptions {
  url: string;
  timeoutMs: number;
  /** A fixed identifier of ours, never user input. */
  channel: string;
  /** Lets an operator (and a test) find the connection in pg_stat_activity. */
  applicationName: string;
  /** What listens, for the error message ("the change feed"). */
  what: string;
  adopt(client: postgres.Sql): void;
  onNotify(client: postgres.Sql, payload: string): void;
  onClose(client: postgres.Sql): void;
}

/** Connects and LISTENs within `timeoutMs`; BackendUnavailableError otherwise (the connection is ended). */
export async function openListenConnection(options: ListenConnectionOptions): Promise<postgres.Sql> {
  // onnotify is a postgres.js option its type declarations leave out (its own listen() uses it).
  const clientOptions: postgres.Options<Record<string, never>> & { onnotify(channel: string, payload: string): void } = {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)),
    onnotice: () => {},
    onnotify: (channel, payload) => {
      if (channel === options.channel) options.onNotify(client, payload);
    },
    onclose: () => options.onClose(client),
    connection: { application_name: options.applicationName.slice(0, 63) },
  };
  const client = postgres(options.url, clientOptions);
  options.adopt(client);
  try {
    await withTimeout(
      client.unsafe(`LISTEN ${options.channel}`).then(() => undefined),
      options.timeoutMs,
      'listen',
    );
  } catch (error) {
    void client.end({ timeout: 0 }).catch(() => {});
    throw new BackendUnavailableError(`${options.what} could not listen: ${(error as Error).message}`, { cause: error });
  }
  return client;
}
