-- Custom migration: the change feed and the SQL invalidation functions.
--
-- Every change to the entries tables is announced with NOTIFY on the channel
-- "cacheport_changes" by statement-level AFTER triggers with transition
-- tables, so every writer (the adapters, the worker, the SQL functions below,
-- an application's own triggers) is covered without touching each statement.
-- NOTIFY is transactional: the announcement is delivered at commit and never
-- for a rolled-back write. Payload (JSON, at most ~7 kB, NOTIFY's limit is
-- 8000 bytes): {"s": schema, "ns": namespace, "op": ..., "keys"?: [...]}.
-- Without "keys" the change concerns the whole namespace (a key list too
-- large to announce). Every function pins search_path to the schema the
-- migrations run in (SET search_path FROM CURRENT), so callers with any
-- search_path reach this install's tables.

-- Announces one change of one namespace; splits the key list into payloads
-- under 7000 bytes, or announces the whole namespace when the list is large.
CREATE FUNCTION cacheport_announce(p_schema text, p_ns text, p_op text, p_keys text[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  chunk text[] := '{}';
  chunk_bytes int := 0;
  key_bytes int;
  k text;
BEGIN
  IF p_keys IS NULL OR cardinality(p_keys) > 2000
     OR (SELECT sum(octet_length(x)) FROM unnest(p_keys) AS x) > 64000 THEN
    PERFORM pg_notify('cacheport_changes', json_build_object('s', p_schema, 'ns', p_ns, 'op', p_op)::text);
    RETURN;
  END IF;
  FOREACH k IN ARRAY p_keys LOOP
    key_bytes := octet_length(to_json(k)::text) + 1;
    IF chunk_bytes + key_bytes > 7000 THEN
      PERFORM pg_notify('cacheport_changes', json_build_object('s', p_schema, 'ns', p_ns, 'op', p_op, 'keys', chunk)::text);
      chunk := '{}';
      chunk_bytes := 0;
    END IF;
    chunk := chunk || k;
    chunk_bytes := chunk_bytes + key_bytes;
  END LOOP;
  IF cardinality(chunk) > 0 THEN
    PERFORM pg_notify('cacheport_changes', json_build_object('s', p_schema, 'ns', p_ns, 'op', p_op, 'keys', chunk)::text);
  END IF;
END
$$;
--> statement-breakpoint
-- The trigger body. The op comes from the statement kind, unless the
-- transaction named it (cacheport.change_op, set by the functions below).
-- Not announced: UPDATEs that only touch recency (accessed_at, hits: the read
-- tracker) and DELETEs of rows already expired (invisible already; the
-- cleanup job would otherwise flush every local cache on each run).
CREATE FUNCTION cacheport_notify_changes() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  hint text := nullif(current_setting('cacheport.change_op', true), '');
  r record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    FOR r IN SELECT ns, array_agg(key) AS keys FROM new_rows GROUP BY ns LOOP
      PERFORM cacheport_announce(TG_TABLE_SCHEMA, r.ns, coalesce(hint, 'set'), r.keys);
    END LOOP;
  ELSIF TG_OP = 'UPDATE' THEN
    FOR r IN
      SELECT n.ns, CASE WHEN n.etag IS DISTINCT FROM o.etag THEN 'set' ELSE 'expire' END AS op, array_agg(n.key) AS keys
      FROM new_rows n JOIN old_rows o ON o.ns = n.ns AND o.key = n.key
      WHERE n.etag IS DISTINCT FROM o.etag OR n.expires_at IS DISTINCT FROM o.expires_at OR n.tags IS DISTINCT FROM o.tags
      GROUP BY 1, 2
    LOOP
      PERFORM cacheport_announce(TG_TABLE_SCHEMA, r.ns, coalesce(hint, r.op), r.keys);
    END LOOP;
  ELSE
    FOR r IN
      SELECT ns, array_agg(key) AS keys FROM old_rows WHERE expires_at IS NULL OR expires_at > now() GROUP BY ns
    LOOP
      PERFORM cacheport_announce(TG_TABLE_SCHEMA, r.ns, coalesce(hint, 'delete'), r.keys);
    END LOOP;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER entries_changes_insert AFTER INSERT ON entries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
CREATE TRIGGER entries_changes_update AFTER UPDATE ON entries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
CREATE TRIGGER entries_changes_delete AFTER DELETE ON entries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
CREATE TRIGGER durable_entries_changes_insert AFTER INSERT ON durable_entries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
CREATE TRIGGER durable_entries_changes_update AFTER UPDATE ON durable_entries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
CREATE TRIGGER durable_entries_changes_delete AFTER DELETE ON durable_entries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cacheport_notify_changes();
--> statement-breakpoint
-- Deletes the entries at `keys` of namespace `ns`; returns how many were live.
-- Transactional: call it in your own transaction (or trigger); the feed
-- announces it at commit.
CREATE FUNCTION cacheport_invalidate(ns text, keys text[]) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  deleted bigint;
BEGIN
  PERFORM set_config('cacheport.change_op', 'delete', true);
  WITH a AS (DELETE FROM entries e WHERE e.ns = $1 AND e.key = ANY($2) RETURNING e.expires_at),
       b AS (DELETE FROM durable_entries d WHERE d.ns = $1 AND d.key = ANY($2) RETURNING d.expires_at)
  SELECT count(*) INTO deleted FROM (SELECT expires_at FROM a UNION ALL SELECT expires_at FROM b) x
  WHERE x.expires_at IS NULL OR x.expires_at > now();
  PERFORM set_config('cacheport.change_op', '', true);
  RETURN deleted;
END
$$;
--> statement-breakpoint
-- Deletes the entries whose key starts with `prefix` (literal: % and _ are
-- ordinary characters); returns how many were live.
CREATE FUNCTION cacheport_invalidate_prefix(ns text, prefix text) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  deleted bigint;
BEGIN
  PERFORM set_config('cacheport.change_op', 'prefix', true);
  WITH a AS (DELETE FROM entries e WHERE e.ns = $1 AND e.key >= $2 AND starts_with(e.key, $2) RETURNING e.expires_at),
       b AS (DELETE FROM durable_entries d WHERE d.ns = $1 AND d.key >= $2 AND starts_with(d.key, $2) RETURNING d.expires_at)
  SELECT count(*) INTO deleted FROM (SELECT expires_at FROM a UNION ALL SELECT expires_at FROM b) x
  WHERE x.expires_at IS NULL OR x.expires_at > now();
  PERFORM set_config('cacheport.change_op', '', true);
  RETURN deleted;
END
$$;
--> statement-breakpoint
-- Deletes the entries carrying any of `tags`; returns how many were live.
CREATE FUNCTION cacheport_invalidate_tags(ns text, tags text[]) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  deleted bigint;
BEGIN
  PERFORM set_config('cacheport.change_op', 'tags', true);
  WITH a AS (DELETE FROM entries e WHERE e.ns = $1 AND e.tags && $2 RETURNING e.expires_at),
       b AS (DELETE FROM durable_entries d WHERE d.ns = $1 AND d.tags && $2 RETURNING d.expires_at)
  SELECT count(*) INTO deleted FROM (SELECT expires_at FROM a UNION ALL SELECT expires_at FROM b) x
  WHERE x.expires_at IS NULL OR x.expires_at > now();
  PERFORM set_config('cacheport.change_op', '', true);
  RETURN deleted;
END
$$;
