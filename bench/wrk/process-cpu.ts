/**
 * CPU time a process has used so far (user + system, all its threads), read
 * from /proc/<pid>/stat: the server's own cost per request, whatever the load
 * generator and the database use on the same cores.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc times (CLK_TCK, 100 on Linux unless configured otherwise). */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const parsed = Number(answer.stdout?.trim());
    ticksPerSecond = answer.status === 0 && Number.isInteger(parsed) && parsed > 0 ? parsed : 100;
  }
  return ticksPerSecond;
}

/** True where /proc/<pid>/stat can be read (Linux). */
export async function canReadProcessCpu(pid: number): Promise<boolean> {
  return (await processCpuUs(pid).catch(() => undefined)) !== undefined;
}

/** The fields of /proc/<pid>/stat after the command name: index 0 is field 3 (state), 1 is ppid. */
async function statFields(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is parenthesised and may contain spaces: count fields after its closing parenthesis.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of `pid` in microseconds (resolution: one clock tick, usually 10 ms). */
export async function processCpuUs(pid: number): Promise<number> {
  const fields = await statFields(pid);
  // Fields after the name start at field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return ((utime + stime) * 1_000_000) / clockTicksPerSecond();
}

/** Pids whose parent is `pid` (a cluster primary's workers), from /proc/<n>/stat. */
export async function childPids(pid: number): Promise<number[]> {
  const names = await readdir('/proc');
  const children: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    // A process may exit between readdir and the read: skip it.
    const fields = await statFields(Number(name)).catch(() => undefined);
    if (fields !== undefined && Number(fields[1]) === pid) children.push(Number(name));
  }
  return children;
}

/** CPU µs of `pid` plus its children (a multi-process server: primary + workers), per process. */
export async function processTreeCpuUs(pid: number, children: readonly number[]): Promise<number> {
  const times = await Promise.all([pid, ...children].map((p) => processCpuUs(p)));
  return times.reduce((sum, t) => sum + t, 0);
}
