/**
 * Presence over /v1/presence. The route takes a JSON object (or null) as a
 * member's data; other JSON values are a ValidationError here.
 */
import { ValidationError } from '../../core/errors.js';
import type { HeartbeatOptions, JsonValue, PresenceList, PresenceTracker } from '../../core/port.js';
import { DEFAULT_SESSION_LIMITS, MAX_PRESENCE_LIMIT, prepareHeartbeat, validateListLimit, validateName } from '../../core/validation.js';
import type { HttpClient } from './client.js';
import { duration, epochMs, nameSegment } from './wire.js';

const channelPath = (channel: string) => `/v1/presence/${nameSegment(channel, 'channel')}`;
const memberPath = (channel: string, member: string) => `${channelPath(channel)}/${nameSegment(member, 'member')}`;

export function createHttpPresenceTracker(client: HttpClient): PresenceTracker {
  async function heartbeat(channel: string, member: string, options: HeartbeatOptions): Promise<void> {
    const { dataJson, ttl } = prepareHeartbeat(channel, member, options, DEFAULT_SESSION_LIMITS);
    const data = JSON.parse(dataJson) as JsonValue;
    if (data !== null && (typeof data !== 'object' || Array.isArray(data)))
      throw new ValidationError({ name: 'data', reason: 'over HTTP must be a JSON object or null' });
    await client.call({
      method: 'PUT',
      path: memberPath(channel, member),
      body: { ttl: duration(ttl), data },
      operation: 'heartbeat',
    });
  }

  /** DELETE answers 204 either way; whether the member was there is read first (not atomic with the delete). */
  async function leave(channel: string, member: string): Promise<boolean> {
    validateName(channel, 'channel');
    validateName(member, 'member');
    const path = memberPath(channel, member);
    const present = (await members(channel, { limit: MAX_PRESENCE_LIMIT })).members.some((m) => m.member === member);
    await client.call({ method: 'DELETE', path, operation: 'leave' });
    return present;
  }

  async function members(channel: string, options: { limit?: number } = {}): Promise<PresenceList> {
    validateName(channel, 'channel');
    validateListLimit(options.limit, MAX_PRESENCE_LIMIT);
    const { body } = await client.json<{ count: number; members: { member: string; data: JsonValue; expiresAt: string }[] }>({
      method: 'GET',
      path: channelPath(channel),
      query: { limit: options.limit === undefined ? undefined : String(options.limit) },
      operation: 'members',
    });
    return {
      count: body.count,
      members: body.members.map((m) => ({ member: m.member, data: m.data, expiresAt: epochMs(m.expiresAt) as number })),
    };
  }

  async function count(channel: string): Promise<number> {
    validateName(channel, 'channel');
    const { body } = await client.json<{ count: number }>({
      method: 'GET',
      path: channelPath(channel),
      query: { limit: '1' },
      operation: 'count',
    });
    return body.count;
  }

  return { heartbeat, leave, members, count };
}
