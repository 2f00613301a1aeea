/**
 * Sessions over /v1/sessions. A malformed id is simply unknown (no request).
 * revokeSession's boolean needs the subject route first: DELETE answers 204
 * whether or not the session existed.
 */
import { isSessionIdFormat } from '../../core/session-id.js';
import type { CreatedSession, CreateSessionOptions, JsonObject, Session, SessionStore } from '../../core/port.js';
import { DEFAULT_SESSION_LIMITS, prepareSessionCreate, serializeJsonObject, validateSubject } from '../../core/validation.js';
import type { HttpClient } from './client.js';
import { duration, epochMs, segment } from './wire.js';

const path = (id: string) => `/v1/sessions/${segment(id)}`;

export function createHttpSessionStore(client: HttpClient): SessionStore {
  async function createSession(options: CreateSessionOptions): Promise<CreatedSession> {
    const prepared = prepareSessionCreate(options, DEFAULT_SESSION_LIMITS);
    const { body } = await client.json<{ id: string; subject: string; createdAt: string; expiresAt: string }>({
      method: 'POST',
      path: '/v1/sessions',
      body: {
        subject: prepared.subject,
        data: JSON.parse(prepared.dataJson) as JsonObject,
        ttl: duration(prepared.ttl),
        maxAge: duration(prepared.maxAge),
      },
      operation: 'createSession',
    });
    return {
      id: body.id,
      subject: body.subject,
      createdAt: epochMs(body.createdAt) as number,
      expiresAt: epochMs(body.expiresAt) as number,
    };
  }

  async function getSession(id: string): Promise<Session | undefined> {
    if (!isSessionIdFormat(id)) return undefined;
    const answer = await client.json<{ subject: string; data: JsonObject; createdAt: string; expiresAt: string }>({
      method: 'GET',
      path: path(id),
      expect: [404],
      operation: 'getSession',
    });
    if (answer.status === 404) return undefined;
    const { subject, data, createdAt, expiresAt } = answer.body;
    return { subject, data, createdAt: epochMs(createdAt) as number, expiresAt: epochMs(expiresAt) as number };
  }

  async function sessionSubject(id: string): Promise<string | undefined> {
    if (!isSessionIdFormat(id)) return undefined;
    const answer = await client.json<{ subject: string }>({
      method: 'GET',
      path: `${path(id)}/subject`,
      expect: [404],
      operation: 'sessionSubject',
    });
    return answer.status === 404 ? undefined : answer.body.subject;
  }

  async function updateSession(id: string, data: JsonObject): Promise<boolean> {
    const dataJson = serializeJsonObject(data, DEFAULT_SESSION_LIMITS.maxSessionDataBytes);
    if (!isSessionIdFormat(id)) return false;
    const answer = await client.call({
      method: 'PATCH',
      path: path(id),
      body: { data: JSON.parse(dataJson) as JsonObject },
      expect: [404],
      operation: 'updateSession',
    });
    return answer.status !== 404;
  }

  async function revokeSession(id: string): Promise<boolean> {
    if ((await sessionSubject(id)) === undefined) return false;
    await client.call({ method: 'DELETE', path: path(id), operation: 'revokeSession' });
    return true;
  }

  async function revokeSubject(subject: string): Promise<number> {
    validateSubject(subject);
    const { body } = await client.json<{ revoked: number }>({
      method: 'DELETE',
      path: '/v1/sessions',
      query: { subject },
      operation: 'revokeSubject',
    });
    return body.revoked;
  }

  return { createSession, getSession, sessionSubject, updateSession, revokeSession, revokeSubject };
}
