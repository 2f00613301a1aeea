/**
 * The channel-retention job (Postgres): the adapter's trimChannels with the
 * worker's defaults (CHANNEL_RETENTION, 10,000 messages per channel),
 * counting deleted messages into the metrics.
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { trimChannels, type BatchedRunOptions, type ChannelTrimResult } from '../src/adapters/postgres/maintenance.js';
import { CHANNEL_FORGET_AFTER_MS, DEFAULT_CHANNEL_MAX_MESSAGES } from '../src/core/channels.js';
import { channelMessagesTrimmed } from './metrics.js';

export interface ChannelRetentionOptions extends Partial<BatchedRunOptions> {
  /** CHANNEL_RETENTION in ms. */
  retentionMs: number;
  /** Default 10,000. */
  maxMessages?: number;
}

export const DEFAULT_CHANNEL_TRIM_BATCH = 5000;
export const DEFAULT_CHANNEL_TRIM_BUDGET_MS = 30_000;

export async function runChannelRetention(sql: Sql, options: ChannelRetentionOptions): Promise<ChannelTrimResult> {
  const result = await trimChannels(sql, {
    retentionMs: options.retentionMs,
    maxMessages: options.maxMessages ?? DEFAULT_CHANNEL_MAX_MESSAGES,
    forgetMs: CHANNEL_FORGET_AFTER_MS,
    batchSize: options.batchSize ?? DEFAULT_CHANNEL_TRIM_BATCH,
    timeBudgetMs: options.timeBudgetMs ?? DEFAULT_CHANNEL_TRIM_BUDGET_MS,
    signal: options.signal,
  });
  channelMessagesTrimmed.inc(result.deleted);
  return result;
}
