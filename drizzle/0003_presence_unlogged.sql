-- Custom migration: what drizzle-kit cannot express.
-- Presence is ephemeral (heartbeats every few seconds): UNLOGGED skips the WAL;
-- after a database crash the table is empty and members re-announce themselves.
-- Sessions stay LOGGED (durable across restarts).
ALTER TABLE "presence" SET UNLOGGED;
--> statement-breakpoint
-- Both tables churn (heartbeats, sliding expiry): vacuum early so they do not bloat.
ALTER TABLE "presence" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
--> statement-breakpoint
ALTER TABLE "sessions" SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
