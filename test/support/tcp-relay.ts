/**
 * A TCP relay in front of a real server, for connection-level tests: it
 * counts the connections it accepted and the most open at once, and can
 * freeze (stop forwarding on every open connection without closing it, as a
 * vanished host would leave a half-open connection) and thaw.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  url: string;
  stats: { accepted: number; mostOpen: number };
  /** Stops forwarding on the connections open now; new connections still work. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: URL): Promise<TcpRelay> {
  const pairs = new Map<Socket, Socket>();
  const stats = { accepted: 0, mostOpen: 0 };
  const server: Server = createServer((client) => {
    stats.accepted++;
    const upstream = connect(Number(target.port), target.hostname);
    pairs.set(client, upstream);
    stats.mostOpen = Math.max(stats.mostOpen, pairs.size);
    client.pipe(upstream).pipe(client);
    const end = () => {
      pairs.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
