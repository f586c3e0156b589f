import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import request from 'supertest';
import { createApp, type KefuApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { scriptedRouter, testConfig } from '../http/test-app.ts';
import { POSTGRES_TEST_URL, dropTestSchemas, testSchema } from '../store/postgres-test-db.ts';

const silent = pino({ level: 'silent' });

describe('the server on PostgreSQL', () => {
  const apps: KefuApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop()));
  });
  afterAll(() => dropTestSchemas());

  const instance = async (schema: string): Promise<{ app: KefuApp; http: ReturnType<typeof request> }> => {
    const app = await createApp(testConfig({ database: { kind: 'postgres', url: POSTGRES_TEST_URL, schema } }), { router: scriptedRouter(), log: silent });
    apps.push(app);
    const { port } = await app.start();
    return { app, http: request(`http://127.0.0.1:${port}`) };
  };

  it('lets two instances on one database serve the same conversation, and keeps it across a restart of both', async () => {
    const schema = testSchema();
    const [a, b] = [await instance(schema), await instance(schema)];
    expect(a.app.store.kind).toBe('postgres');
    const created = await a.http.post('/api/v1/conversations').send({ channel: 'web', customerId: 'pg-1' }).expect(201);
    const { id } = created.body.conversation as { id: string };
    const auth = `Bearer ${created.body.token as string}`;
    // The other instance takes the next message: same secret, same database.
    const turn = await b.http.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '信用卡掉了', clientMessageId: 'p-1' }).expect(200);
    expect(turn.body.reply.text).toBe('回覆:信用卡掉了');
    // A retry through the first instance is answered once, with the same reply.
    const retry = await a.http.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '信用卡掉了', clientMessageId: 'p-1' }).expect(200);
    expect(retry.body).toMatchObject({ duplicate: true, reply: { id: turn.body.reply.id } });
    await a.http.get('/readyz').expect(200);

    await Promise.all(apps.splice(0).map((x) => x.stop()));
    const again = await instance(schema);
    const history = await again.http.get(`/api/v1/conversations/${id}/messages`).set('authorization', auth).expect(200);
    expect(history.body.messages.map((m: { author: string }) => m.author)).toEqual(['bot', 'customer', 'bot']);
    await again.http.post(`/api/v1/conversations/${id}/messages`).set('authorization', auth).send({ text: '還有問題' }).expect(200);
  });

  it('refuses to start on PostgreSQL without a connection string or a shared secret', () => {
    expect(() => loadConfig({ overrides: { database: { kind: 'postgres' }, server: { secret: 'x'.repeat(32) } } })).toThrow(/database\.url: required/);
    expect(() => loadConfig({ env: { KEFU_DB_KIND: 'postgres', KEFU_DB_URL: POSTGRES_TEST_URL } })).toThrow(/server\.secret: required/);
    expect(() => loadConfig({ overrides: { database: { kind: 'postgres', url: 'mysql://x' } } })).toThrow(/database\.url: must be a postgres/);
    expect(() => loadConfig({ overrides: { database: { kind: 'postgres', url: POSTGRES_TEST_URL, schema: 'Kefu; x' } } })).toThrow(/database\.schema/);
    const c = loadConfig({ env: { KEFU_DB_KIND: 'postgres', KEFU_DB_URL: POSTGRES_TEST_URL, KEFU_DB_SCHEMA: 'bank_a', KEFU_SECRET: 'y'.repeat(32) } });
    expect(c.database).toMatchObject({ kind: 'postgres', url: POSTGRES_TEST_URL, schema: 'bank_a', poolSize: 10 });
  });
});
