/**
 * HTTP load with wrk (Debian package `wrk`), a C load generator that leaves
 * more of the machine to the server than autocannon (which shares Node's
 * costs). Each run writes its generated Lua script to a temporary directory,
 * runs wrk for a fixed duration and reads the figures the script prints.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Measurement } from '../lib/measurement.js';
import { RESULT_MARKER, wrkScript, type PathPlan } from './lua.js';

/** Path of the wrk binary, or undefined when it is not installed. */
export function findWrk(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

export interface WrkRunOptions {
  binary: string;
  /** http://127.0.0.1:<port> */
  origin: string;
  plan: PathPlan;
  connections: number;
  threads: number;
  durationMs: number;
  /** CPUs wrk may run on, as `taskset -c` takes them (e.g. "0"); unset: anywhere. */
  cpuList?: string;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  timeouts: number;
  p50Us: number;
  p99Us: number;
}

/** Bound on a run beyond its duration (wrk's own start and stop, a stuck server). */
const GRACE_MS = 15_000;

function execWrk(binary: string, args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`wrk exited (${code ?? signal}): ${(stderr || stdout).trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

function parseSummary(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((l) => l.startsWith(`${RESULT_MARKER} `));
  if (line === undefined) throw new Error(`wrk printed no result line: ${stdout.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line.slice(RESULT_MARKER.length + 1)) as WrkSummary;
}

/** One wrk run; non-2xx/3xx answers, socket errors and timeouts count as errors. */
export async function runWrk(options: WrkRunOptions): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), 'cpbench-wrk-'));
  try {
    const script = join(dir, 'case.lua');
    await writeFile(script, wrkScript(options.plan));
    const seconds = Math.max(1, Math.round(options.durationMs / 1000));
    const args = [
      '-t',
      String(options.threads),
      '-c',
      String(options.connections),
      '-d',
      `${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      options.origin,
    ];
    const [command, commandArgs] =
      options.cpuList === undefined ? [options.binary, args] : ['taskset', ['-c', options.cpuList, options.binary, ...args]];
    const summary = parseSummary(await execWrk(command, commandArgs, seconds * 1000 + GRACE_MS));
    const errors = summary.connectErrors + summary.readErrors + summary.writeErrors + summary.statusErrors + summary.timeouts;
    const ok = Math.max(0, summary.requests - summary.statusErrors);
    const counts: [string, number][] = [
      ['HTTP errors', summary.statusErrors],
      ['connect errors', summary.connectErrors],
      ['read errors', summary.readErrors],
      ['write errors', summary.writeErrors],
      ['timeouts', summary.timeouts],
    ];
    const firstError = counts.find(([, n]) => n > 0);
    return {
      opsPerSec: summary.durationUs > 0 ? ok / (summary.durationUs / 1_000_000) : 0,
      p50: summary.p50Us / 1000,
      p99: summary.p99Us / 1000,
      ops: ok,
      errors,
      ...(firstError === undefined ? {} : { firstError: `${firstError[1]} ${firstError[0]}` }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
