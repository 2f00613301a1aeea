/**
 * The types every HTTP module shares: the dependencies (AppDeps) and the Hono
 * env (AppEnv). Types only, so any module may import them without a cycle.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CachePort } from '../core/port.js';
import type { Authenticator, Principal } from './auth.js';
import type { LocalEntryCaches } from './local-entries.js';
import type { SseStreams } from './sse.js';

export interface AppDeps {
  port: CachePort;
  config: Config;
  logger: Logger;
  auth: Authenticator;
  /** This process's local caches of namespaces with `localCache` (reads of entries go through it). */
  localEntries: LocalEntryCaches;
  /** The open event streams, ended by a graceful shutdown. */
  streams: SseStreams;
}

export interface AppEnv {
  /** Set by @hono/node-server; absent under app.request() in tests. */
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse };
  Variables: {
    requestId: string;
    /** Set by the auth middleware on /v1/*; undefined on public routes. */
    principal: Principal | undefined;
    /** The matched route pattern, set by the auth middleware on /v1/* so the request log need not look it up again. */
    route: string | undefined;
  };
}

export type AppContext = Context<AppEnv>;
