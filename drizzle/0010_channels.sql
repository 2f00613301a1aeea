-- Custom migration: pub/sub channels (src/adapters/postgres/channels.ts).
--
-- Messages are ephemeral (kept for CHANNEL_RETENTION, at most 10,000 per
-- channel): both tables are UNLOGGED, so publishing writes no WAL; after a
-- database crash they are empty, and a subscriber resuming with an old id is
-- told `gap`.
--
-- "channels" holds one row per channel: the publish statement locks it
-- (upsert) before taking the message id from the sequence, so within a channel
-- ids are issued and committed in the same order (see channels.ts). It also
-- records the last id issued and the newest id removed by cleanup
-- (trimmed_through), from which a subscriber learns that messages it asks for
-- are gone. A row is forgotten a day after the channel's last message is gone.
CREATE UNLOGGED TABLE "channels" (
  "channel" text PRIMARY KEY,
  "last_id" bigint NOT NULL,
  "trimmed_through" bigint NOT NULL DEFAULT 0,
  "last_published_at" timestamptz NOT NULL
);
--> statement-breakpoint
CREATE SEQUENCE "channel_message_ids" AS bigint;
--> statement-breakpoint
CREATE UNLOGGED TABLE "channel_messages" (
  "channel" text NOT NULL,
  "id" bigint NOT NULL,
  "data" json NOT NULL,
  "published_at" timestamptz NOT NULL,
  PRIMARY KEY ("channel", "id")
);
--> statement-breakpoint
-- A channel's newest message past retention in one index probe (publish's lazy
-- trim, a read's gap check, the cleanup). Within a channel published_at grows
-- with id (both are taken under the channel row's lock).
CREATE INDEX "channel_messages_channel_published_at" ON "channel_messages" ("channel", "published_at");
--> statement-breakpoint
-- Every publish rewrites its channel's row, and messages are deleted as fast
-- as they are published: vacuum early so neither table (nor the index range
-- publish's trim walks) fills with dead rows.
ALTER TABLE "channels" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
--> statement-breakpoint
ALTER TABLE "channel_messages" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
