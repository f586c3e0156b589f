/**
 * A PostgreSQL schema name kefu accepts: plain lower-case (quoted in SQL all the same, so reserved words such as
 * `user` work), and not pg_…, which PostgreSQL keeps for itself.
 */
export const POSTGRES_SCHEMA_PATTERN = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;
