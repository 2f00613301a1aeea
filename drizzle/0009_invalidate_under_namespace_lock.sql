-- Custom migration: the SQL invalidation functions (0007) behave like the
-- adapter's own bulk deletes (0008):
-- * they take the namespace's advisory lock in shared mode first, so a
--   durable switch or a drop (which take it exclusively) is atomic with
--   respect to them: an invalidation runs wholly before a switch (and the
--   switch moves what is left) or wholly after it (and finds the moved rows);
-- * they lock the rows in key order before deleting, as batch writes do, so an
--   invalidation and a batch write never deadlock on each other.
-- One statement per table: each sees the rows committed before it started,
-- which is after the shared lock was granted.
CREATE OR REPLACE FUNCTION cacheport_delete_matching(p_ns text, p_table regclass, p_where text, p_arg anyelement) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  deleted bigint;
BEGIN
  -- p_table and p_where come only from the three functions below, never from a caller.
  EXECUTE format(
    'WITH victims AS (SELECT e.key FROM %s AS e WHERE e.ns = $1 AND %s ORDER BY e.key FOR UPDATE),
          d AS (DELETE FROM %s AS e USING victims AS v WHERE e.ns = $1 AND e.key = v.key RETURNING e.expires_at)
     SELECT count(*) FROM d WHERE d.expires_at IS NULL OR d.expires_at > now()',
    p_table, p_where, p_table)
  INTO deleted USING p_ns, p_arg;
  RETURN deleted;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION cacheport_invalidate_where(p_ns text, p_op text, p_where text, p_arg anyelement) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  deleted bigint;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('cacheport:ns:' || p_ns));
  PERFORM set_config('cacheport.change_op', p_op, true);
  deleted := cacheport_delete_matching(p_ns, 'entries'::regclass, p_where, p_arg)
           + cacheport_delete_matching(p_ns, 'durable_entries'::regclass, p_where, p_arg);
  PERFORM set_config('cacheport.change_op', '', true);
  RETURN deleted;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION cacheport_invalidate(ns text, keys text[]) RETURNS bigint
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT cacheport_invalidate_where(ns, 'delete', 'e.key = ANY($2)', keys)
$$;
--> statement-breakpoint
-- An empty prefix is refused (as the library and the HTTP API refuse it):
-- it would silently delete the whole namespace.
CREATE OR REPLACE FUNCTION cacheport_invalidate_prefix(ns text, prefix text) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF prefix IS NULL OR prefix = '' THEN
    RAISE EXCEPTION 'cacheport_invalidate_prefix: prefix must not be empty (to clear a namespace, delete its entries explicitly)'
      USING ERRCODE = '22023';
  END IF;
  RETURN cacheport_invalidate_where(ns, 'prefix', 'e.key >= $2 AND starts_with(e.key, $2)', prefix);
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION cacheport_invalidate_tags(ns text, tags text[]) RETURNS bigint
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT cacheport_invalidate_where(ns, 'tags', 'e.tags && $2', tags)
$$;
