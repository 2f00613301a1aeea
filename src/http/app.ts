/**
 * The HTTP application. It depends only on src/core (CachePort and friends),
 * never on an adapter: src/app.ts builds the port and passes it in.
 *
 * HOW TO ADD ROUTES (route authors, read this):
 * - One module per route family in src/http/routes/<family>.ts exporting
 *     export function xxxRoutes(deps: AppDeps): OpenAPIHono<AppEnv>
 *   built with `createRouter()` from ../context.js. Paths are relative to /v1
 *   (e.g. `/locks/{name}`); the module is mounted below with app.route('/v1', ...).
 * - Declare each route with `createRoute` + `router.openapi(route, handler)` so it
 *   appears in /openapi.json. Params, query and JSON bodies given as zod schemas
 *   are validated for you: a failure is a 400 problem+json with invalid-params.
 * - Authorization comes before the body is read: give every route
 *   `middleware: [authorize(scope, target?), jsonBody()]` (jsonBody only when
 *   it takes a JSON body; ./json-body.ts answers 415, 413 over 2 MiB, 400 for
 *   nesting deeper than 32 or malformed JSON). `target` names the path
 *   parameter holding a namespace or a coordination name (confined by its
 *   scope, the part before the first `:`). Make body schemas `.strict()`.
 * - Durations: `parseDurationField(body.ttl, 'ttl')` from ./fields.js → ms (throws a 400
 *   naming the field); also parseTtlOrNone, parseBy and the ETag helpers there.
 * - Errors: just throw. Port errors map to statuses centrally (ValidationError
 *   400, LimitExceededError 413, NotAnInteger/IntegerOverflow 409,
 *   BackendUnavailable/BackendTimeout 503); for anything else throw
 *   `new HttpProblem(status, slug, detail, headers?)` from ./problem.js.
 * - Wrong method → 405 and unknown path → 404 are automatic.
 */
import { enrichOpenApi, type OpenApiDocument } from './openapi-extras.js';
import { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import { DOCS_ASSETS_BASE, serveDocsAsset } from './docs-assets.js';
import { matchedRoutes } from 'hono/route';
import { TrieRouter } from 'hono/router/trie-router';
import { problemHook, unauthorized, type AppContext, type AppDeps, type AppEnv } from './context.js';
import { corsMiddleware } from './cors.js';
import { namespacedKey, rawPath } from './path-key.js';
import { problemForError } from './error-answer.js';
import { HttpProblem, problemResponse, toProblem } from './problem.js';
import { chooseRequestId, finishRequest, METHODS } from './request-record.js';
import { batchRoutes } from './routes/batch.js';
import { changeRoutes } from './routes/changes.js';
import { channelRoutes } from './routes/channels.js';
import { counterRoutes } from './routes/counters.js';
import { entryRoutes } from './routes/entries.js';
import { lockRoutes } from './routes/locks.js';
import { namespaceKeyRoutes } from './routes/namespace-keys.js';
import { namespaceRoutes } from './routes/namespaces.js';
import { operationsRoutes } from './routes/operations.js';
import { presenceRoutes } from './routes/presence.js';
import { rateLimitRoutes } from './routes/ratelimit.js';
import { sessionRoutes } from './routes/sessions.js';

export type { AppDeps, AppEnv } from './context.js';

export { MAX_JSON_BODY_BYTES } from './json-body.js';

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: problemHook });

  app.use('*', requestLog(deps));
  const cors = corsMiddleware(deps.config.corsOrigins);
  if (cors) app.use('*', cors);
  app.use('/v1/*', authenticate(deps));

  app.route('/', operationsRoutes(deps));
  app.route('/v1', entryRoutes(deps));
  app.route('/v1', counterRoutes(deps));
  app.route('/v1', batchRoutes(deps));
  app.route('/v1', namespaceRoutes(deps));
  app.route('/v1', namespaceKeyRoutes(deps));
  app.route('/v1', changeRoutes(deps));
  app.route('/v1', sessionRoutes(deps));
  app.route('/v1', presenceRoutes(deps));
  app.route('/v1', rateLimitRoutes(deps));
  app.route('/v1', lockRoutes(deps));
  app.route('/v1', channelRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const documentConfig: Parameters<typeof app.getOpenAPI31Document>[0] = {
    openapi: '3.1.0',
    info: {
      title: 'cacheport HTTP API',
      version: '1.0.0',
      description:
        'Redis-style caching and coordination over HTTP. Errors are application/problem+json (RFC 9457). ' +
        'Authenticate with the header `Authorization: Bearer YOUR_TOKEN`; a token without the scope or namespace gets 403 before its body is read. ' +
        'Coordination names (rate-limit keys, locks, presence channels, pub/sub channels, session subjects) are confined by their scope, the part ' +
        'before the first `:`. JSON bodies are strict (an unknown field is 400), at most 2 MiB and 32 levels deep. ' +
        'Durations are whole seconds or 250ms/30s/5m/2h/1d (max 365d). A client that disconnects is recorded as 499.',
    },
    security: [{ bearer: [] }],
  };
  // Generated once, then finished by enrichOpenApi (operationIds, HEAD, examples, Problem types).
  let openApiDocument: OpenApiDocument | undefined;
  app.get('/openapi.json', (c) => {
    openApiDocument ??= enrichOpenApi(app.getOpenAPI31Document(documentConfig) as unknown as OpenApiDocument);
    return c.json(openApiDocument);
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: DOCS_ASSETS_BASE }));
  app.get(`${DOCS_ASSETS_BASE}/swagger-ui-dist/:file`, serveDocsAsset);

  app.notFound(methodAwareNotFound(app, deps));
  app.onError((error, c) => problemResponse(problemForError(error, deps.logger, c.get('requestId'), clientWentAway(c))));
  return app;
}

/** The route pattern of the request, or undefined when no route matched (404/405). */
function matchedRoute(c: AppContext): string | undefined {
  return matchedRoutes(c).find((r) => r.method !== 'ALL')?.path;
}

/** The route pattern that handled the request (for logs and metric labels), or `unmatched`. Looked up once. */
function routeLabel(c: AppContext): string {
  return c.get('route') ?? matchedRoute(c) ?? 'unmatched';
}

/** The request id, then one info line per request and the request metrics (./request-record.ts). */
function requestLog(deps: AppDeps) {
  return async (c: AppContext, next: () => Promise<void>) => {
    const started = performance.now();
    const requestId = chooseRequestId(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    // On the Node server the header goes on the outgoing message, which merges it into whatever response is
    // written. Setting it on the finished Response instead would rebuild it around a body stream (slow path).
    const outgoing = c.env?.outgoing;
    outgoing?.setHeader('x-request-id', requestId);
    await next();
    if (!outgoing) c.header('x-request-id', requestId);
    finishRequest(deps.logger, { requestId, method: c.req.method, route: routeLabel(c), status: c.res.status, started });
  };
}

/** The client disconnected (request aborted, or its body cut short). */
function clientWentAway(c: AppContext): boolean {
  const incoming = c.env?.incoming;
  return c.req.raw.signal.aborted || (incoming?.destroyed === true && !incoming.complete);
}

/**
 * Resolves the bearer token on real routes (unknown paths fall through to
 * 404/405 without revealing anything). Scope checks happen in the handlers.
 */
function authenticate(deps: AppDeps) {
  return async (c: AppContext, next: () => Promise<void>) => {
    const route = matchedRoute(c);
    if (route === undefined) return next();
    c.set('route', route);
    const principal = deps.auth.authenticate(c.req.header('authorization'));
    if (!principal) throw unauthorized();
    c.set('principal', principal);
    return next();
  };
}

/**
 * A key path with a `.` or `..` segment (raw or `%2e`) that URL normalization
 * took off its route: authenticated and authorized like the key routes, then
 * refused with their 400. Returns without a problem for any other path.
 */
function refuseDotSegmentKey(c: AppContext, deps: AppDeps): void {
  const path = rawPath(c);
  const family = path.startsWith('/v1/cache/') ? 'cache' : path.startsWith('/v1/counters/') ? 'counters' : undefined;
  if (family === undefined) return;
  const principal = deps.auth.authenticate(c.req.header('authorization'));
  if (!principal) throw unauthorized();
  c.set('principal', principal);
  const read = family === 'cache' && (c.req.method === 'GET' || c.req.method === 'HEAD');
  namespacedKey(c, family, read ? 'read' : 'write');
}

/** 405 with Allow when the path exists under another method, else 404. */
function methodAwareNotFound(app: OpenAPIHono<AppEnv>, deps: AppDeps) {
  let router: TrieRouter<string> | undefined;
  return (c: AppContext) => {
    try {
      refuseDotSegmentKey(c, deps);
    } catch (error) {
      const problem = toProblem(error);
      if (!problem) throw error;
      return problemResponse(problem);
    }
    if (!router) {
      router = new TrieRouter<string>();
      for (const route of app.routes) if (route.method !== 'ALL') router.add(route.method, route.path, route.method);
    }
    const routes = router;
    const allowed = METHODS.filter((m) => routes.match(m === 'HEAD' ? 'GET' : m, c.req.path)[0].length > 0);
    if (allowed.length > 0) {
      return problemResponse(
        new HttpProblem(405, 'method-not-allowed', `${c.req.method} is not allowed on this path; allowed: ${allowed.join(', ')}`, {
          allow: allowed.join(', '),
        }),
      );
    }
    return problemResponse(new HttpProblem(404, 'not-found', `no route for ${c.req.method} ${c.req.path}`));
  };
}
