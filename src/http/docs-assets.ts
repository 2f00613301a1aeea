/**
 * Serves the Swagger UI assets for GET /docs from the installed
 * swagger-ui-dist package, so the docs page works without reaching a CDN
 * (air-gapped hosts, strict CSPs). Read once, then served from memory.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Context } from 'hono';
import { HttpProblem, problemResponse } from './problem.js';

/** Where the page loads them from: `${DOCS_ASSETS_BASE}/swagger-ui-dist/<file>`. */
export const DOCS_ASSETS_BASE = '/docs/assets';

const FILES = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const;
type AssetName = keyof typeof FILES;

const distDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const loaded = new Map<AssetName, Promise<Buffer>>();

function isAsset(name: string): name is AssetName {
  return Object.hasOwn(FILES, name);
}

export async function serveDocsAsset(c: Context): Promise<Response> {
  const name = c.req.param('file') ?? '';
  if (!isAsset(name)) return problemResponse(new HttpProblem(404, 'not-found', `no documentation asset ${JSON.stringify(name)}`));
  let bytes = loaded.get(name);
  if (!bytes) {
    bytes = readFile(path.join(distDir, name));
    loaded.set(name, bytes);
  }
  return new Response(new Uint8Array(await bytes), {
    headers: { 'content-type': FILES[name], 'cache-control': 'public, max-age=86400' },
  });
}
