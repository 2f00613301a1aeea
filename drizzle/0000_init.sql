CREATE TABLE "durable_entries" (
	"ns" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"value" "bytea" NOT NULL,
	"content_type" text NOT NULL,
	"etag" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"size" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"accessed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"hits" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "durable_entries_pkey" PRIMARY KEY("ns","key")
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"ns" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"value" "bytea" NOT NULL,
	"content_type" text NOT NULL,
	"etag" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"size" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"accessed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"hits" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "entries_pkey" PRIMARY KEY("ns","key")
);
--> statement-breakpoint
CREATE TABLE "namespaces" (
	"name" text PRIMARY KEY NOT NULL,
	"configured" boolean DEFAULT false NOT NULL,
	"default_ttl_ms" bigint,
	"max_entries" bigint,
	"max_bytes" bigint,
	"eviction" text DEFAULT 'lru' NOT NULL,
	"durable" boolean DEFAULT false NOT NULL,
	"hits" bigint DEFAULT 0 NOT NULL,
	"misses" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "durable_entries_expires_at_idx" ON "durable_entries" USING btree ("expires_at") WHERE "durable_entries"."expires_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "durable_entries_tags_idx" ON "durable_entries" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "durable_entries_ns_accessed_at_idx" ON "durable_entries" USING btree ("ns","accessed_at");--> statement-breakpoint
CREATE INDEX "entries_expires_at_idx" ON "entries" USING btree ("expires_at") WHERE "entries"."expires_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "entries_tags_idx" ON "entries" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "entries_ns_accessed_at_idx" ON "entries" USING btree ("ns","accessed_at");