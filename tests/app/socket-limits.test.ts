import { describe, it, expect, afterEach } from 'vitest';
import { pino } from 'pino';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { createApp, type KefuApp } from '../../src/app.ts';
import { scriptedRouter, testConfig } from '../http/test-app.ts';

type Reply = { ok: boolean; error?: { code: string; message: string } };

// The web chat's per-address limits as the server wires them: the handshake's address, believed through the proxies
// server.trustProxy lists, keys the same allowances the REST API uses for new conversations.
describe('web chat limits per address', () => {
  let app: KefuApp | undefined;
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await app?.stop();
    app = undefined;
  });

  const serve = async (rateLimit: Record<string, number>): Promise<string> => {
    app = await createApp(testConfig({ server: { trustProxy: ['loopback'] }, rateLimit: { perIpPerMinute: 1000, perConversationPerMinute: 100, ...rateLimit } }), {
      router: scriptedRouter(), log: pino({ level: 'silent' }),
    });
    const { port } = await app.start();
    return `http://127.0.0.1:${port}/chat`;
  };
  const open = async (url: string, forwardedFor: string): Promise<ClientSocket> => {
    const socket = connect(url, { transports: ['websocket'], forceNew: true, extraHeaders: { 'x-forwarded-for': forwardedFor } });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  };
  const ask = (socket: ClientSocket, event: string, payload: unknown): Promise<Reply> => socket.timeout(10_000).emitWithAck(event, payload) as Promise<Reply>;

  it('gives each customer behind the proxy an allowance of events, and refuses the flooding one alone', async () => {
    const url = await serve({ socketEventsPerIpPerMinute: 2 });
    const flooder = await open(url, '198.51.100.1');
    const other = await open(url, '198.51.100.2');
    expect(await ask(flooder, 'conversation:start', { customerId: 'flooder-0001' })).toMatchObject({ ok: true });
    expect(await ask(flooder, 'conversation:start', { customerId: 'flooder-0002' })).toMatchObject({ ok: true });
    expect(await ask(flooder, 'conversation:start', { customerId: 'flooder-0003' })).toMatchObject({ ok: false, error: { code: 'KEFU_RATE_LIMITED' } });
    // A second socket from the same customer address shares the allowance; another address has its own.
    expect(await ask(await open(url, '198.51.100.1'), 'conversation:start', { customerId: 'flooder-0004' })).toMatchObject({ ok: false, error: { code: 'KEFU_RATE_LIMITED' } });
    expect(await ask(other, 'conversation:start', { customerId: 'other-00001' })).toMatchObject({ ok: true });
  });

  it('counts socket starts and REST starts from one address together', async () => {
    const url = await serve({ startsPerIpPerMinute: 2 });
    const socket = await open(url, '198.51.100.9');
    expect(await ask(socket, 'conversation:start', { customerId: 'browser-00001' })).toMatchObject({ ok: true });
    const rest = await app!.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: {}, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect(rest.statusCode).toBe(201);
    expect(await ask(socket, 'conversation:start', { customerId: 'browser-00002' })).toMatchObject({
      ok: false, error: { code: 'KEFU_RATE_LIMITED', message: expect.stringMatching(/2 new conversations a minute/) },
    });
  });
});
