/** Small helpers shared by the HTTP tests. */
import { expect } from 'vitest';

export const JSON_HEADERS = { 'content-type': 'application/json' };

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, body: JSON.stringify(body), headers: { ...JSON_HEADERS, ...headers } };
}

/** Asserts a problem+json response with `status` and returns its body. */
export async function expectProblem(
  res: Response,
  status: number,
): Promise<{ type: string; title: string; status: number; detail: string; 'invalid-params'?: { name: string; reason: string }[] }> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    'invalid-params'?: { name: string; reason: string }[];
  };
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe('string');
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface NamespaceJson {
  name: string;
  config: {
    defaultTtl: string | null;
    maxEntries: number | null;
    maxBytes: number | null;
    eviction: string;
    durable: boolean;
    localCache: { maxEntries: number; ttl: string } | null;
  };
  stats: { entries: number; bytes: number; hits: number; misses: number; expiredPending: number; localHits: number };
}

/** GET /v1/namespaces/{ns} as typed JSON. */
export async function namespaceJson(res: Response | Promise<Response>): Promise<NamespaceJson> {
  return (await (await res).json()) as NamespaceJson;
}

/** Tokens of the lean-path tests (fast-path*.test.ts): a reader, a writer, and a reader of another namespace only. */
export const READER = 'reader-token-1';
export const WRITER = 'writer-token-1';
export const NARROW = 'narrow-token-1';
export const TOKENS = [
  { token: READER, scopes: ['read'], namespaces: ['*'] },
  { token: WRITER, scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: NARROW, scopes: ['read'], namespaces: ['elsewhere'] },
];
