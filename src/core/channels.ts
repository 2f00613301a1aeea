/**
 * Pub/sub channels, what both adapters share: the options and their
 * defaults, and the input rules of publish and subscribe (checked before any
 * backend call). Delivery is channel-hub.ts; ids are channel-ids.ts.
 */
import type { ChannelIds } from './channel-ids.js';
import { ValidationError } from './errors.js';
import { serializeJson, validateName } from './validation.js';

/** Default inclusive limit on a message's serialized JSON (UTF-8 bytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Default time a message is kept for replay. */
export const DEFAULT_CHANNEL_RETENTION_MS = 60_000;
/** Messages kept per channel at most (older ones are removed first). */
export const DEFAULT_CHANNEL_MAX_MESSAGES = 10_000;
/** How long a backend still remembers an idle channel's last id (for `gap` answers) after its messages are gone. */
export const CHANNEL_FORGET_AFTER_MS = 24 * 60 * 60 * 1000;
/** Messages per read (one round trip); a longer backlog is read in several. */
export const CHANNEL_READ_BATCH = 500;

/** The adapter options of channels (all optional: the defaults above). */
export interface ChannelOptions {
  /** CACHE_MAX_MESSAGE_BYTES: inclusive limit on a message's JSON (default 64 KiB). */
  maxMessageBytes?: number;
  /** CHANNEL_RETENTION in ms (default 60 s). */
  channelRetentionMs?: number;
  /**
   * Messages kept per channel at most (default 10,000). Redis trims to it on
   * every publish; on Postgres the worker's channel-retention job enforces
   * 10,000 (this option does not reach it).
   */
  channelMaxMessages?: number;
}

export interface ChannelSettings {
  maxMessageBytes: number;
  retentionMs: number;
  maxMessages: number;
}

export function channelSettings(options: ChannelOptions): ChannelSettings {
  return {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    retentionMs: options.channelRetentionMs ?? DEFAULT_CHANNEL_RETENTION_MS,
    maxMessages: options.channelMaxMessages ?? DEFAULT_CHANNEL_MAX_MESSAGES,
  };
}

/** Validates a publish: the channel name (lock-name rule) and the data (JSON within the limit); the data serialized. */
export function preparePublish(channel: unknown, data: unknown, maxMessageBytes: number): string {
  validateName(channel, 'channel');
  return serializeJson(data, maxMessageBytes, 'data');
}

/** Validates subscribe input before any backend call. */
export function prepareSubscribe(channel: unknown, onEvent: unknown, options: unknown, ids: ChannelIds): string | undefined {
  validateName(channel, 'channel');
  if (typeof onEvent !== 'function') throw new ValidationError({ name: 'onEvent', reason: 'must be a function' });
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new ValidationError({ name: 'options', reason: 'must be an object' });
  const { fromId } = options as { fromId?: unknown };
  if (fromId === undefined) return undefined;
  ids.validate(fromId, 'fromId');
  return fromId;
}
