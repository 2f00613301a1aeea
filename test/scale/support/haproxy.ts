/**
 * A real HAProxy (the Debian binary) in front of the scale test's instances,
 * with a generated configuration in a temp directory, on free 127.0.0.1
 * ports, stopped after (and killed if the test process exits first).
 *
 * Three frontends on one process: `all` balances round robin over every
 * instance; `one` sends everything to the first instance only (the
 * single-instance throughput figure through the same proxy); `capped` is
 * `all` with at most `concurrency / instances` requests in flight per
 * instance (HAProxy maxconn, the rest wait in its queue), the bound the kill
 * test asserts on. The other two have no such bound: queueing in HAProxy
 * costs more throughput than it measures (a third of the direct figure on
 * this machine).
 */
import { canConnect, killOnExit } from '../../support/processes.js';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../src/free-port.js';

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';

/** Skip (locally) when the binary is missing; under CI=true the tests run and fail instead. */
export const skipWithoutHaproxy = !existsSync(HAPROXY_BIN) && process.env.CI !== 'true';

export interface HaproxyOptions {
  /** Ports of the instances on 127.0.0.1; the first one also backs the `one` frontend. */
  instancePorts: number[];
  /** `capped`: requests in flight to the instances at once, in total (default 12). */
  concurrency?: number;
}

export interface ServerState {
  name: string;
  /** HAProxy's status column: UP, DOWN, `UP 1/2` while rising… */
  status: string;
}

export interface HaproxyProcess {
  /** http://127.0.0.1:<port> balancing over every instance. */
  url: string;
  /** http://127.0.0.1:<port> to the first instance only. */
  oneUrl: string;
  /** http://127.0.0.1:<port> balancing over every instance, at most perInstanceMaxconn in flight on each. */
  cappedUrl: string;
  /** Requests in flight per instance at most, behind `cappedUrl`. */
  perInstanceMaxconn: number;
  /** The servers of the round-robin backend `all`, from the admin socket (`show stat`). */
  servers(): Promise<ServerState[]>;
  log(): string;
  /** SIGTERM (SIGKILL after 5 s) and remove the temp directory. Idempotent. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** One admin-socket command; the socket answers and closes. */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`haproxy admin socket: no answer to ${command}`)));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
    socket.write(`${command}\n`);
  });
}

export function haproxyConfig(options: {
  allPort: number;
  onePort: number;
  cappedPort: number;
  socketPath: string;
  instancePorts: number[];
  concurrency: number;
}): string {
  const perInstance = Math.max(1, Math.floor(options.concurrency / options.instancePorts.length));
  const [first] = options.instancePorts;
  if (first === undefined) throw new Error('haproxy needs at least one instance');
  return [
    'global',
    '  maxconn 2000',
    `  stats socket ${options.socketPath} mode 600 level admin`,
    'defaults',
    '  mode http',
    // Short timeouts: a dead instance is found by the health check, not by waiting.
    '  timeout connect 1s',
    '  timeout client 15s',
    '  timeout server 15s',
    '  timeout queue 10s',
    // A check waits for a pool connection behind the load: give it time (a dead instance refuses at once anyway).
    '  timeout check 3s',
    // A connection refused by a dead instance is retried on another one; a request
    // already sent to it is not (it may have been applied: POSTs are not idempotent).
    '  retries 3',
    '  option redispatch 1',
    '  option httpchk GET /health/ready',
    '  http-check expect status 200',
    '  default-server inter 300ms fastinter 200ms downinter 300ms fall 2 rise 2',
    'frontend all',
    `  bind 127.0.0.1:${options.allPort}`,
    '  default_backend instances',
    'frontend capped',
    `  bind 127.0.0.1:${options.cappedPort}`,
    '  default_backend capped_instances',
    'frontend one',
    `  bind 127.0.0.1:${options.onePort}`,
    '  default_backend first_instance',
    'backend instances',
    '  balance roundrobin',
    ...options.instancePorts.map((port, i) => `  server i${i + 1} 127.0.0.1:${port} check`),
    'backend capped_instances',
    '  balance roundrobin',
    ...options.instancePorts.map((port, i) => `  server i${i + 1} 127.0.0.1:${port} check maxconn ${perInstance}`),
    'backend first_instance',
    `  server i1 127.0.0.1:${first} check`,
    '',
  ].join('\n');
}

export async function startHaproxy(options: HaproxyOptions): Promise<HaproxyProcess> {
  if (!existsSync(HAPROXY_BIN)) throw new Error(`haproxy not found at ${HAPROXY_BIN} (Debian package haproxy; or set HAPROXY_BIN)`);
  const concurrency = options.concurrency ?? 12;
  const dir = mkdtempSync(join(tmpdir(), 'cp-haproxy-'));
  const socketPath = join(dir, 'admin.sock');
  const allPort = await freePort();
  const onePort = await freePort();
  const cappedPort = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig({ allPort, onePort, cappedPort, socketPath, instancePorts: options.instancePorts, concurrency }));
  try {
    execFileSync(HAPROXY_BIN, ['-c', '-q', '-f', cfg], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`haproxy refused its generated configuration: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
  // -db: foreground, no daemon, so the child is the proxy itself.
  const child = spawn(HAPROXY_BIN, ['-db', '-f', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000)));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!((await canConnect(allPort)) && (await canConnect(onePort)) && (await canConnect(cappedPort)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  return {
    url: `http://127.0.0.1:${allPort}`,
    oneUrl: `http://127.0.0.1:${onePort}`,
    cappedUrl: `http://127.0.0.1:${cappedPort}`,
    perInstanceMaxconn: Math.max(1, Math.floor(concurrency / options.instancePorts.length)),
    async servers() {
      const csv = await adminCommand(socketPath, 'show stat');
      const [header, ...rows] = csv.trim().split('\n');
      const columns = (header ?? '').replace(/^# /, '').split(',');
      const at = (name: string) => columns.indexOf(name);
      return rows
        .map((row) => row.split(','))
        .filter((cells) => cells[at('pxname')] === 'instances' && !['FRONTEND', 'BACKEND'].includes(cells[at('svname')] ?? ''))
        .map((cells) => ({ name: cells[at('svname')] ?? '', status: cells[at('status')] ?? '' }));
    },
    log: () => output,
    stop,
  };
}
