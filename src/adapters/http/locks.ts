/** Locks over /v1/locks/{name}: 409 means "held by someone else" / "not held by this token". */
import { validateLeaseToken, validateLeaseTtl, validateLockName } from '../../core/lease.js';
import type { Lease, LockManager, LockState, ReleaseResult } from '../../core/port.js';
import type { HttpClient } from './client.js';
import { duration, epochMs, nameSegment } from './wire.js';

interface LeaseJson {
  token: string;
  fence: number;
  expiresAt: string;
}

const path = (name: string) => `/v1/locks/${nameSegment(name, 'name')}`;

function toLease(json: LeaseJson): Lease {
  return { token: json.token, fence: json.fence, expiresAt: epochMs(json.expiresAt) as number };
}

export function createHttpLockManager(client: HttpClient): LockManager {
  async function acquire(name: string, options: { ttl: number }): Promise<Lease | null> {
    validateLockName(name);
    validateLeaseTtl(options?.ttl);
    const answer = await client.json<LeaseJson>({
      method: 'POST',
      path: path(name),
      body: { ttl: duration(options.ttl) },
      expect: [409],
      operation: 'acquire',
    });
    return answer.status === 409 ? null : toLease(answer.body);
  }

  async function extend(name: string, token: string, ttl: number): Promise<Lease | null> {
    validateLockName(name);
    validateLeaseToken(token);
    validateLeaseTtl(ttl);
    const answer = await client.json<LeaseJson>({
      method: 'PATCH',
      path: path(name),
      body: { token, ttl: duration(ttl) },
      expect: [409],
      operation: 'extend',
    });
    return answer.status === 409 ? null : toLease(answer.body);
  }

  async function release(name: string, token: string): Promise<ReleaseResult> {
    validateLockName(name);
    validateLeaseToken(token);
    const answer = await client.call({
      method: 'DELETE',
      path: path(name),
      headers: { 'lock-token': token },
      expect: [404, 409],
      operation: 'release',
    });
    if (answer.status === 404) return 'not_held';
    return answer.status === 409 ? 'wrong_token' : 'released';
  }

  async function inspectLock(name: string): Promise<LockState> {
    validateLockName(name);
    const { body } = await client.json<{ held: boolean; expiresAt: string | null; fence: number | null }>({
      method: 'GET',
      path: path(name),
      operation: 'inspectLock',
    });
    return { held: body.held, expiresAt: epochMs(body.expiresAt), fence: body.fence };
  }

  return { acquire, extend, release, inspectLock };
}
