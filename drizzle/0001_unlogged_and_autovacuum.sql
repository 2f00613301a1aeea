-- Custom migration: what drizzle-kit cannot express.
-- The cache entries table is UNLOGGED: no WAL (faster writes), emptied after a
-- database crash, not replicated. Durable namespaces use durable_entries.
ALTER TABLE "entries" SET UNLOGGED;
--> statement-breakpoint
-- Cache tables churn: vacuum after 2% dead rows instead of the default 20%,
-- so TTL cleanup and eviction do not let them bloat.
ALTER TABLE "entries" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
--> statement-breakpoint
ALTER TABLE "durable_entries" SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.05);
