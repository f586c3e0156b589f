import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Store } from '../store/store.ts';

export interface HealthOptions {
  store: Store;
  /** True once a router (a trained model) is in service. */
  modelLoaded: () => boolean;
  /** True from the moment shutdown begins, so a load balancer stops sending traffic before the port closes. */
  stopping: () => boolean;
  /** With several instances: true while the Redis connections that carry pushes between them are up. */
  redisReady?: () => boolean;
}

const READINESS_PROBE_ID = 'readiness-probe';

const checkState = z.enum(['ok', 'failed', 'loading', 'stopping']);
const readySchema = z.object({
  status: z.enum(['ready', 'not-ready']),
  checks: z.object({ store: checkState, model: checkState, process: checkState, redis: checkState.optional() }),
});

/** GET /healthz (the process answers) and GET /readyz (store reachable and model loaded, else 503). */
export const health: FastifyPluginAsync<HealthOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'Liveness: the process is up', response: { 200: z.object({ status: z.literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: { tags: ['operations'], summary: 'Readiness: the store answers, a model is loaded (and, with several instances, Redis is connected)', response: { 200: readySchema, 503: readySchema } },
  }, async (req, reply) => {
    let store: z.infer<typeof checkState> = 'ok';
    try {
      // The cheapest query every store has, a primary-key lookup that finds nothing: it fails when the database is
      // closed or unreachable, and costs a probe every few seconds nothing on the thread every turn waits on.
      await opts.store.getConversation(READINESS_PROBE_ID);
    } catch (err) {
      req.log.warn({ err }, 'readiness: store check failed');
      store = 'failed';
    }
    const checks = {
      store, model: opts.modelLoaded() ? ('ok' as const) : ('loading' as const), process: opts.stopping() ? ('stopping' as const) : ('ok' as const),
      // An instance cut off from Redis would take customers whose agents' replies (sent on another instance) never reach them.
      ...(opts.redisReady ? { redis: opts.redisReady() ? ('ok' as const) : ('failed' as const) } : {}),
    };
    const ready = Object.values(checks).every((c) => c === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });
};
