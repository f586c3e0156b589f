import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConversationService } from '../conversation/conversation-service.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../log.ts';

export interface KefuMetrics {
  registry: Registry;
  /** Stops listening to the conversation service. */
  close(): void;
}

/**
 * Prometheus metrics in a registry of this app's own (not prom-client's global one), so two apps in one process
 * (tests, a blue/green swap) never count into each other.
 */
export function createMetrics(deps: { service: ConversationService; store: Store; log: Logger; clusterDropped?: () => number }): KefuMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const turns = new Counter({
    name: 'kefu_turns_total',
    help: 'Customer messages the bot answered, by outcome and by the brain that decided (none when neither was confident)',
    labelNames: ['outcome', 'brain'] as const,
    registers: [registry],
  });
  const replySeconds = new Histogram({
    name: 'kefu_reply_seconds',
    help: 'Time from a customer message reaching the conversation service to its stored reply (storing it, routing, storing the reply)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'kefu_open_conversations',
    help: 'Conversations not yet closed, by who holds them (bot, queued, agent)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await deps.store.countOpenConversations();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      } catch (err) {
        // A scrape must still answer when the store does not; /readyz is where that failure shows.
        deps.log.warn({ err }, 'metrics: cannot count conversations');
      }
    },
  });
  if (deps.clusterDropped) {
    const droppedSoFar = deps.clusterDropped;
    let counted = 0;
    new Counter({
      name: 'kefu_cluster_pushes_dropped_total',
      help: 'Pushes to sockets on other instances dropped because Redis was away longer than the held queue lasts (those sockets were told to catch up)',
      registers: [registry],
      collect() {
        const now = droppedSoFar();
        this.inc(now - counted);
        counted = now;
      },
    });
  }
  const unsubscribe = deps.service.subscribe((e) => {
    if (e.type !== 'turn') return;
    turns.inc({ outcome: e.outcome.outcome, brain: e.outcome.brain ?? 'none' });
    replySeconds.observe(e.ms / 1000);
  });
  return { registry, close: unsubscribe };
}

/** GET /metrics in Prometheus text format. */
export const metricsRoute: FastifyPluginAsync<{ metrics: KefuMetrics }> = async (fastify, { metrics }) => {
  fastify.get('/metrics', {
    schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)' },
  }, async (_req, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
  fastify.addHook('onClose', async () => metrics.close());
};
