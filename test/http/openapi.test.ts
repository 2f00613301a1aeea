/**
 * /openapi.json is good enough to generate a client from: every operation has
 * a unique operationId and examples (request body and every response body),
 * HEAD of an entry is documented and works, the Problem schema lists every
 * problem `type` the code can produce, and readiness documents its 503.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_METHODS, type OpenApiDocument } from '../../src/http/openapi-extras.js';
import { postgresFactory } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HTTP_SRC = fileURLToPath(new URL('../../src/http/', import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])));
  return nested.flat().filter((file) => file.endsWith('.ts'));
}

describe('OpenAPI document', () => {
  let s: TestServer;
  let doc: OpenApiDocument;
  beforeAll(async () => {
    s = await startTestServer(postgresFactory);
    doc = (await (await s.fetch('/openapi.json')).json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await s?.stop();
  });

  function operations() {
    return Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
      HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => ({ name: `${m.toUpperCase()} ${p}`, op: item[m]! })),
    );
  }

  it('every operation has a unique operationId', () => {
    const all = operations();
    expect(all.length).toBeGreaterThan(20);
    const missing = all.filter(({ op }) => typeof op.operationId !== 'string' || op.operationId === '').map(({ name }) => name);
    expect(missing).toEqual([]);
    const ids = all.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every request body and every response body has an example', () => {
    const missing: string[] = [];
    for (const { name, op } of operations()) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        if (media.example === undefined && media.examples === undefined && media.schema?.example === undefined)
          missing.push(`${name} request ${type}`);
      }
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (media.example === undefined && media.examples === undefined && media.schema?.example === undefined)
            missing.push(`${name} ${status} ${type}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('readiness documents a failing 503 example', () => {
    const ready = doc.paths?.['/health/ready']?.get;
    expect(ready?.responses?.['503']?.content?.['application/json']?.example).toMatchObject({ status: 'unavailable' });
    expect(ready?.responses?.['200']?.content?.['application/json']?.example).toMatchObject({ status: 'ok' });
  });

  it('HEAD of an entry is documented and answered with the headers of GET and no body', async () => {
    const head = doc.paths?.['/v1/cache/{ns}/{key}']?.head;
    expect(head?.operationId).toBe('headCacheEntry');
    expect(head?.responses?.['200']).toBeDefined();
    const put = await s.fetch('/v1/cache/oas-head/k', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(put.status).toBe(201);
    const res = await s.fetch('/v1/cache/oas-head/k', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(put.headers.get('etag'));
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.text()).toBe('');
  });

  it('the Problem schema lists every problem type the HTTP layer can produce', async () => {
    const types = doc.components?.schemas?.Problem?.properties?.type?.enum ?? [];
    const slugs = new Set<string>();
    for (const file of await sourceFiles(HTTP_SRC)) {
      for (const match of (await readFile(file, 'utf8')).matchAll(/HttpProblem\(\s*\d+,\s*'([a-z-]+)'/g)) slugs.add(match[1] as string);
    }
    expect(slugs.size).toBeGreaterThan(5);
    for (const slug of slugs) expect(types, slug).toContain(`urn:cacheport:problem:${slug}`);
  });
});
