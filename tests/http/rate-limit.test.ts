import { describe, it, expect, afterEach } from 'vitest';
import type { KefuApp } from '../../src/app.ts';
import { capturingLogger, startConversation, testApp } from './test-app.ts';

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

  it('counts the handoff routes in the same per-address allowance as the conversation routes', async () => {
    app = await testApp({ rateLimit: { perIpPerMinute: 3, perConversationPerMinute: 100 } });
    const c = await startConversation(app);
    const queue = () => app!.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/queue`, headers: c.headers });
    expect((await queue()).statusCode).not.toBe(429);
    expect((await queue()).statusCode).not.toBe(429);
    const limited = await queue();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatchObject({ code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/3 requests a minute from one address/) });
  });

  it('refuses new conversations from one address over their own limit, while that address still talks in the ones it has', async () => {
    app = await testApp({ rateLimit: { perIpPerMinute: 1000, perConversationPerMinute: 100, startsPerIpPerMinute: 2 } });
    const first = await startConversation(app);
    await startConversation(app);
    const third = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {} });
    expect(third.statusCode).toBe(429);
    expect(third.json().error).toMatchObject({ code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/2 new conversations a minute from one address/) });
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const sent = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${first.id}/messages`, headers: first.headers, payload: { text: '你好' } });
    expect(sent.statusCode).toBe(200);
    // Another address has its own allowance; an IPv6 line's addresses (its /64) share one.
    expect((await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {}, remoteAddress: '192.0.2.7' })).statusCode).toBe(201);
    const fromLine = (address: string) => app!.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {}, remoteAddress: address });
    expect((await fromLine('2001:db8:1:2::1')).statusCode).toBe(201);
    expect((await fromLine('2001:db8:1:2::2')).statusCode).toBe(201);
    expect((await fromLine('2001:db8:1:2:ffff::3')).statusCode).toBe(429);
  });

  it('says once in the log when requests come through a proxy it does not trust', async () => {
    const { log, lines } = capturingLogger();
    app = await testApp({}, { log });
    for (let i = 0; i < 3; i++) await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {}, headers: { 'x-forwarded-for': `198.51.100.${i}` } });
    expect(lines.filter((l) => l.includes('server.trustProxy is false'))).toHaveLength(1);
  });

  it('believes X-Forwarded-For only from the proxies trustProxy lists', async () => {
    const starts = async (trustProxy: unknown): Promise<number[]> => {
      await app?.stop();
      app = await testApp({ server: { trustProxy }, rateLimit: { perIpPerMinute: 1000, perConversationPerMinute: 100, startsPerIpPerMinute: 1 } });
      const codes: number[] = [];
      // Two customers behind the proxy at 10.1.2.3, each starting one conversation.
      for (const customer of ['198.51.100.1', '198.51.100.2']) {
        const r = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {}, remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': customer } });
        codes.push(r.statusCode);
      }
      return codes;
    };
    expect(await starts(['10.0.0.0/8'])).toEqual([201, 201]);
    // Not from a listed proxy: the header is the client's own word, and both starts count against 10.1.2.3.
    expect(await starts(['192.168.0.0/16'])).toEqual([201, 429]);
    expect(await starts(false)).toEqual([201, 429]);
  });
});

