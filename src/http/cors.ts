import type { FastifyInstance } from 'fastify';

// The widget runs on the bank's own pages and calls this API from there, so the API answers CORS for the
// configured origins. No cookies are used (the token travels in a header), hence no Allow-Credentials.
// Small enough to keep here; @fastify/cors would replace it if the rules ever grow.
const ALLOW_HEADERS = 'authorization, content-type, x-kefu-token';
const ALLOW_METHODS = 'GET, POST, OPTIONS';

/** Adds CORS headers for `origins` ('*' = any) to every route of `instance`, and answers its preflight requests. */
export function allowCrossOrigin(instance: FastifyInstance, origins: readonly string[]): void {
  addCorsHeaders(instance, origins);
  instance.options('/*', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
}

/**
 * The headers alone, for a second plugin under a prefix whose preflight route allowCrossOrigin already answers
 * (fastify refuses the same OPTIONS route twice).
 */
export function addCorsHeaders(instance: FastifyInstance, origins: readonly string[]): void {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  instance.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (!origin) return;
    if (any) void reply.header('access-control-allow-origin', '*');
    else if (allowed.has(origin)) void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    else return;
    void reply.header('access-control-expose-headers', 'retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset');
    if (req.method === 'OPTIONS') {
      void reply.header('access-control-allow-methods', ALLOW_METHODS).header('access-control-allow-headers', ALLOW_HEADERS).header('access-control-max-age', '600');
    }
  });
}
