CREATE TABLE "locks" (
	"name" text PRIMARY KEY NOT NULL,
	"fence" bigint NOT NULL,
	"token_hash" "bytea",
	"expires_at" timestamp with time zone,
	"acquired_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"key" text COLLATE "C" NOT NULL,
	"algorithm" text NOT NULL,
	"limit_count" bigint NOT NULL,
	"window_ms" bigint NOT NULL,
	"window_start_ms" bigint DEFAULT 0 NOT NULL,
	"current_count" bigint DEFAULT 0 NOT NULL,
	"previous_count" bigint DEFAULT 0 NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"now_ms" bigint NOT NULL,
	"allowed" boolean NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "rate_limits_pkey" PRIMARY KEY("key","algorithm","limit_count","window_ms")
);
--> statement-breakpoint
CREATE INDEX "rate_limits_expires_at_idx" ON "rate_limits" USING btree ("expires_at");