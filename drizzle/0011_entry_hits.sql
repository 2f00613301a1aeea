-- Key listings and top entries (issue 17).
-- read_at: when the read tracker last recorded a read of the entry (top's lastAccessAt).
-- entries_ns_hits_idx: top() walks a namespace's entries by hits without a sort; partial
-- (hits > 0), so an entry that was never read costs no index entry and inserts are unchanged.
-- CREATE INDEX blocks writes to the table while it builds (once, at upgrade).
ALTER TABLE "durable_entries" ADD COLUMN "read_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "entries" ADD COLUMN "read_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "durable_entries_ns_hits_idx" ON "durable_entries" USING btree ("ns","hits" DESC NULLS LAST,"key") WHERE "durable_entries"."hits" > 0;--> statement-breakpoint
CREATE INDEX "entries_ns_hits_idx" ON "entries" USING btree ("ns","hits" DESC NULLS LAST,"key") WHERE "entries"."hits" > 0;