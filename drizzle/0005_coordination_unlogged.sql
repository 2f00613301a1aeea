-- Custom migration: what drizzle-kit cannot express.
-- Rate-limit state is ephemeral: UNLOGGED skips the WAL; after a database
-- crash the table is empty, which only resets the limits. locks stays LOGGED:
-- its fence must never repeat.
ALTER TABLE "rate_limits" SET UNLOGGED;
--> statement-breakpoint
-- Every rate-limit call rewrites its row: vacuum early so the table does not bloat.
ALTER TABLE "rate_limits" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
