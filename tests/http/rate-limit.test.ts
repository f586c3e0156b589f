import { describe, it, expect, afterEach } from 'vitest';
import type { KefuApp } from '../../src/app.ts';
import { startConversation, testApp } from './test-app.ts';

describe('rate limits', () => {
  let app: KefuApp | undefined;
  afterEach(async () => {
    await app?.stop();
  });

  it('refuses a flood of messages in one conversation with 429 JSON, leaving other conversations alone', async () => {
    app = await testApp({ rateLimit: { perConversationPerMinute: 3, perIpPerMinute: 1000 } });
    const a = await startConversation(app);
    const b = await startConversation(app);
    const send = (c: typeof a, text: string) => app!.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    for (const t of ['一', '二', '三']) expect((await send(a, t)).statusCode).toBe(200);
    const flooded = await send(a, '四');
    expect(flooded.statusCode).toBe(429);
    expect(flooded.json().error).toMatchObject({ code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/3 messages a minute/) });
    expect(Number(flooded.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The refused message was not stored.
    expect((await app.service.history(a.id)).messages.map((m) => m.text)).not.toContain('四');
    expect((await send(b, '一')).statusCode).toBe(200);
    // Reading is not a message: still allowed.
    expect((await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${a.id}/messages`, headers: a.headers })).statusCode).toBe(200);
  });

  it('refuses a flood of requests from one address with 429 JSON', async () => {
    app = await testApp({ rateLimit: { perIpPerMinute: 3, perConversationPerMinute: 100 } });
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {} });
      codes.push(last.statusCode);
    }
    expect(codes).toEqual([201, 201, 201, 429, 429]);
    expect(last!.json().error).toMatchObject({ code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/3 requests a minute from one address/) });
    expect(last!.headers['retry-after']).toBeDefined();
    // Probes and metrics are outside the API's limit, so a busy load balancer never marks kefu down.
    expect((await app.fastify.inject('/healthz')).statusCode).toBe(200);
  });
});
