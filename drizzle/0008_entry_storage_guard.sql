-- Custom migration: what drizzle-kit cannot express.
-- Every statement that writes entries calls this guard once, before touching a row.
-- It takes the namespace's advisory lock in shared mode for the rest of the
-- writer's transaction (configure and drop take it exclusively), then checks,
-- on a fresh snapshot (a VOLATILE function sees what committed while it waited),
-- that the namespace still lives in the table the writer chose from its cached
-- config. If not, SQLSTATE CP001 aborts the statement before it wrote anything
-- and the adapter reloads the config and retries. So a storage switch or a drop
-- is atomic with respect to writers: each write lands before it (and is moved or
-- removed) or after it (in the right table).
CREATE OR REPLACE FUNCTION "cacheport_entry_guard"(p_ns text, p_durable boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('cacheport:ns:' || p_ns));
  IF coalesce((SELECT durable FROM namespaces WHERE name = p_ns AND configured), false) IS DISTINCT FROM p_durable THEN
    RAISE EXCEPTION 'namespace % moved to the other entry table', p_ns USING ERRCODE = 'CP001';
  END IF;
  RETURN true;
END
$$;
