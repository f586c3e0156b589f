/** A PostgreSQL schema name kefu accepts: plain lower-case, so it can be spliced into SQL (search_path, CREATE SCHEMA) as is. */
export const POSTGRES_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
