/** getOrSet waited timeouts.hard for a value (its own factory or another caller's) and got none. */
export class GetOrSetTimeoutError extends Error {
  readonly code = 'get_or_set_timeout';
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(`getOrSet(${JSON.stringify(key)}) got no value within ${timeoutMs} ms`);
    this.name = 'GetOrSetTimeoutError';
  }
}
