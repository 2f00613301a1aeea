-- Local caches (namespace config `localCache`) and their hit counter.
ALTER TABLE "namespaces" ADD COLUMN "local_cache_max_entries" integer;--> statement-breakpoint
ALTER TABLE "namespaces" ADD COLUMN "local_cache_ttl_ms" integer;--> statement-breakpoint
ALTER TABLE "namespaces" ADD COLUMN "local_hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "namespaces" ADD CONSTRAINT "namespaces_local_cache_check"
  CHECK ((local_cache_max_entries IS NULL) = (local_cache_ttl_ms IS NULL));
