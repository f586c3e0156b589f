import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createMetrics } from '../../src/http/metrics.ts';
import type { ConversationService } from '../../src/conversation/conversation-service.ts';
import type { Store } from '../../src/store/store.ts';

describe('metrics', () => {
  it('counts the pushes a cluster dropped, as the cluster counts them, at each scrape', async () => {
    let dropped = 3;
    const metrics = createMetrics({
      service: { subscribe: () => () => undefined } as unknown as ConversationService,
      store: { countOpenConversations: async () => ({ bot: 0, queued: 0, agent: 0 }) } as unknown as Store,
      log: pino({ level: 'silent' }),
      clusterDropped: () => dropped,
    });
    expect(await metrics.registry.metrics()).toContain('kefu_cluster_pushes_dropped_total 3');
    dropped = 5;
    expect(await metrics.registry.metrics()).toContain('kefu_cluster_pushes_dropped_total 5');
    // One instance alone has no such counter.
    const alone = createMetrics({
      service: { subscribe: () => () => undefined } as unknown as ConversationService,
      store: { countOpenConversations: async () => ({ bot: 0, queued: 0, agent: 0 }) } as unknown as Store,
      log: pino({ level: 'silent' }),
    });
    expect(await alone.registry.metrics()).not.toContain('kefu_cluster_pushes_dropped_total');
  });
});
