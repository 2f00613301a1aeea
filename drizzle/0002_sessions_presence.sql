CREATE TABLE "presence" (
	"channel" text COLLATE "C" NOT NULL,
	"member" text COLLATE "C" NOT NULL,
	"data" json DEFAULT 'null'::json NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "presence_pkey" PRIMARY KEY("channel","member")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" "bytea" PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"data" json NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"max_expires_at" timestamp with time zone NOT NULL,
	"ttl_ms" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "presence_channel_expires_at_idx" ON "presence" USING btree ("channel","expires_at");--> statement-breakpoint
CREATE INDEX "presence_expires_at_idx" ON "presence" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "sessions_subject_idx" ON "sessions" USING btree ("subject");--> statement-breakpoint
CREATE INDEX "sessions_expires_at_idx" ON "sessions" USING btree ("expires_at");