/**
 * Child process serving one HTTP target, so the load generator (autocannon,
 * in the parent) and the server never share an event loop.
 *   bare-hono: baseline C, a bare Hono route answering a constant 1 KiB body.
 *   app:       the real server (src/app.ts), configured from the environment.
 * Reports `{ url }` over IPC once listening; stops on SIGTERM or when the parent goes away.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { loadConfig } from '../../src/config.js';

interface Started {
  url: string;
  close(): Promise<void>;
}

const BODY_BYTES = 1024;

async function startBareHono(): Promise<Started> {
  const body = new Uint8Array(BODY_BYTES).fill(0x78);
  const app = new Hono();
  app.get('/v1/cache/:ns/*', (c) => c.body(body, 200, { 'content-type': 'application/octet-stream' }));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('bare Hono server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function startApp(): Promise<Started> {
  const { startServer } = await import('../../src/app.js');
  const running = await startServer(loadConfig(process.env), { worker: false });
  return { url: running.url, close: () => running.close() };
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  const started = kind === 'bare-hono' ? await startBareHono() : kind === 'app' ? await startApp() : undefined;
  if (started === undefined) throw new Error(`unknown server kind ${JSON.stringify(kind)}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(0), 5000);
    forced.unref();
    started.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.send?.({ url: started.url });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
