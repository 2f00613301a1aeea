// Test-only preload (node --expose-gc --import): on SIGUSR2 run a full GC, so
// a soak test can read the RSS of what the server really retains instead of
// whatever V8's lazily grown heap happens to hold at that moment.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  process.stderr.write(`gc-on-signal: done ${Date.now()}\n`);
});
