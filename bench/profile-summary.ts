/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function
 * and by module, as a share of the samples taken after `--skip-ms` (so the
 * server's start-up does not blur the profile of the load that followed).
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--skip-ms=3000] [--top=40]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

/** Shortens a file URL to the part a reader recognises: the package, or the path inside the repository. */
function moduleOf(url: string, byFile = false): string {
  if (url === '') return '(native/VM)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
    return byFile ? `${pkg}/…/${rest.at(-1)}` : pkg;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

/** Coarse components, for telling where a request's CPU goes (self time of the frames of each). */
function categoryOf(frame: CallFrame): string {
  const url = frame.url;
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === 'writev' && url === '') return 'socket writes (writev syscall, kernel loopback)';
  if (frame.functionName === '(garbage collector)') return 'garbage collector';
  if (url === '') return 'V8/native (microtasks, program, other natives)';
  if (url.startsWith('node:internal/deps/undici')) return 'undici (WHATWG Headers/Request)';
  if (url.startsWith('node:')) return 'Node http/net/streams/timers';
  if (url.includes('node_modules/hono/') || url.includes('node_modules/@hono/zod-openapi')) return 'Hono (router, compose, context)';
  if (url.includes('node_modules/@hono/node-server')) return '@hono/node-server';
  if (url.includes('node_modules/prom-client')) return 'prom-client (metrics)';
  if (url.includes('node_modules/postgres/')) return 'postgres.js';
  if (url.includes('node_modules/')) return 'other packages';
  if (url.includes('/src/http/')) return 'cacheport src/http';
  if (url.includes('/src/adapters/')) return 'cacheport src/adapters';
  if (url.includes('/src/')) return 'cacheport src/cache, src/core, other';
  return 'other';
}

function top(map: Map<string, number>, total: number, count: number): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [--skip-ms=N] [--top=N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const skipUs = option('skip-ms', 3000) * 1000;
const count = option('top', 40);
const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
const byCategory = new Map<string, number>();
let elapsed = 0;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0;
  elapsed += delta;
  if (elapsed < skipUs) continue;
  const frame = byId.get(profile.samples[i] ?? -1);
  if (frame === undefined) continue;
  total += delta;
  const mod = moduleOf(frame.url);
  const fn = `${frame.functionName || '(anonymous)'} ${moduleOf(frame.url, true)}:${frame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
  byModule.set(mod, (byModule.get(mod) ?? 0) + delta);
  const category = categoryOf(frame);
  byCategory.set(category, (byCategory.get(category) ?? 0) + delta);
}
const busy = total - (byCategory.get('idle') ?? 0);
console.log(`${(total / 1000).toFixed(0)} ms sampled after ${skipUs / 1000} ms, ${(busy / 1000).toFixed(0)} ms not idle\n`);
console.log('self time by component (% of the non-idle time):');
for (const [name, us] of [...byCategory.entries()].filter(([name]) => name !== 'idle').sort((a, b) => b[1] - a[1]))
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
console.log('\nself time by module (% of all samples):');
for (const line of top(byModule, total, count)) console.log(line);
console.log('\nself time by function:');
for (const line of top(byFunction, total, count)) console.log(line);
