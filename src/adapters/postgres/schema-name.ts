/** A valid CACHE_SCHEMA: a lowercase SQL identifier of at most 63 bytes (config, client and worker all check this one). */
export const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
