import { describe, it, expect, afterEach } from 'vitest';
import { pino } from 'pino';
import type { KefuApp } from '../../src/app.ts';
import { createApp } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { scriptedRouter, startConversation, testApp, testConfig } from './test-app.ts';

describe('operations endpoints', () => {
  const apps: KefuApp[] = [];
  const make = async (...args: Parameters<typeof testApp>) => {
    const app = await testApp(...args);
    apps.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
  });

  it('/healthz says the process is up', async () => {
    const app = await make();
    const res = await app.fastify.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 with the store and a model, 503 while the model loads or the store is gone', async () => {
    const app = await make();
    const ready = await app.fastify.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', model: 'ok', process: 'ok' } });

    // No router handed in and loadModel() not called yet: the model is "loading".
    const store = openSqliteStore(':memory:');
    const loading = await createApp(testConfig(), { store, log: pino({ level: 'silent' }) });
    apps.push(loading);
    const notYet = await loading.fastify.inject('/readyz');
    expect(notYet.statusCode).toBe(503);
    expect(notYet.json().checks.model).toBe('loading');
    // Customer messages are refused rather than stored unanswered.
    const c = await startConversation(loading);
    const msg = await loading.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '卡' } });
    expect(msg.statusCode).toBe(503);
    expect(msg.json().error.code).toBe('KEFU_NOT_READY');
    loading.setRouter(scriptedRouter());
    expect((await loading.fastify.inject('/readyz')).statusCode).toBe(200);

    await store.close();
    const gone = await loading.fastify.inject('/readyz');
    expect(gone.statusCode).toBe(503);
    expect(gone.json().checks).toMatchObject({ store: 'failed', model: 'ok' });
  });

  it('/metrics exposes turns by outcome and brain, reply time, open conversations and process metrics', async () => {
    const app = await make();
    const a = await startConversation(app);
    const b = await startConversation(app);
    await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${a.id}/messages`, headers: a.headers, payload: { text: '卡不見了' } });
    await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${a.id}/messages`, headers: a.headers, payload: { text: '???' } });
    await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${b.id}/handoff`, headers: b.headers });
    const res = await app.fastify.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('kefu_turns_total{outcome="answer",brain="faq"} 1');
    expect(res.body).toContain('kefu_turns_total{outcome="fallback",brain="none"} 1');
    expect(res.body).toContain('kefu_reply_seconds_count 2');
    expect(res.body).toContain('kefu_open_conversations{state="bot"} 1');
    expect(res.body).toContain('kefu_open_conversations{state="queued"} 1');
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });

  it('/openapi.json documents every route with its schemas, and /docs serves the UI', async () => {
    const app = await make();
    const res = await app.fastify.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name: string }[]; security?: unknown; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/agent/conversations/live',
      '/api/v1/agent/conversations/mine',
      '/api/v1/agent/conversations/{id}',
      '/api/v1/agent/conversations/{id}/claim',
      '/api/v1/agent/conversations/{id}/close',
      '/api/v1/agent/conversations/{id}/messages',
      '/api/v1/agent/conversations/{id}/notes',
      '/api/v1/agent/conversations/{id}/return',
      '/api/v1/agent/conversations/{id}/suggestions',
      '/api/v1/agent/conversations/{id}/transfer',
      '/api/v1/agent/directory',
      '/api/v1/agent/queue',
      '/api/v1/auth/login',
      '/api/v1/auth/logout',
      '/api/v1/auth/me',
      '/api/v1/conversations',
      '/api/v1/conversations/{id}/callback',
      '/api/v1/conversations/{id}/handoff',
      '/api/v1/conversations/{id}/locale',
      '/api/v1/conversations/{id}/messages',
      '/api/v1/conversations/{id}/messages/{messageId}/feedback',
      '/api/v1/conversations/{id}/queue',
      '/api/v1/conversations/{id}/rating',
      '/api/v1/trainer/whoami',
      '/healthz',
      '/metrics',
      '/readyz',
    ]);
    expect(Object.keys(doc.paths['/api/v1/conversations/{id}/messages']!).sort()).toEqual(['get', 'post']);
    const send = doc.paths['/api/v1/conversations/{id}/messages']!.post!;
    expect(JSON.stringify(send.requestBody)).toContain('"maxLength":2000');
    expect(send.parameters?.map((p) => p.name)).toContain('id');
    expect(send.security).toBeTruthy();
    expect(Object.keys(send.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '409', '429']));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Conversation', 'Message', 'Error']));

    const ui = await app.fastify.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });
});
