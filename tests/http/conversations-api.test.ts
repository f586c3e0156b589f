import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { KefuApp } from '../../src/app.ts';
import { capturingLogger, identityToken, startConversation, testApp, scriptedRouter } from './test-app.ts';

describe('customer REST API', () => {
  let app: KefuApp;
  beforeEach(async () => {
    app = await testApp();
  });
  afterEach(async () => {
    await app.stop();
  });

  const send = (id: string, headers: Record<string, string>, payload: unknown) =>
    app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${id}/messages`, headers, payload: payload as Record<string, unknown> });

  describe('starting a conversation', () => {
    it('greets the customer with the bot name and hands out a token', async () => {
      const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: { channel: 'web', customerId: 'browser-1', locale: 'zh-TW' } });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body.conversation).toMatchObject({ channel: 'web', customerId: 'browser-1', state: 'bot', locale: 'zh-TW', rating: null });
      expect(body.conversation).not.toHaveProperty('consecutiveFallbacks');
      expect(body.messages).toHaveLength(1);
      expect(body.messages[0]).toMatchObject({ author: 'bot', seq: 1 });
      expect(body.messages[0].text).toMatch(/^您好，我是小福/);
      expect(body.token).toMatch(/^v1\./);
      expect(body.resumed).toBe(false);
    });

    it('starts with no body at all, on the api channel, with an opaque customer id', async () => {
      const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations' });
      expect(res.statusCode).toBe(201);
      expect(res.json().conversation).toMatchObject({ channel: 'api', locale: 'zh-TW' });
      expect(res.json().conversation.customerId).toMatch(/^anon-/);
    });

    it('greets in English for an English conversation', async () => {
      const { json } = await startConversation(app, { locale: 'en' });
      expect(json.messages[0]?.text).toMatch(/^Hello, I am 小福/);
    });

    it('resumes the open conversation only for a caller holding its token', async () => {
      const first = await startConversation(app, { channel: 'web', customerId: 'browser-7' });
      await send(first.id, first.headers, { text: '卡片不見了' });
      const resumed = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', headers: first.headers, payload: { channel: 'web', customerId: 'browser-7', resume: true } });
      expect(resumed.statusCode).toBe(200);
      expect(resumed.json()).toMatchObject({ resumed: true, conversation: { id: first.id }, token: first.token });
      expect(resumed.json().messages.map((m: { author: string }) => m.author)).toEqual(['bot', 'customer', 'bot']);

      // Knowing someone's customer id is not enough to read their conversation.
      const stranger = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: { channel: 'web', customerId: 'browser-7', resume: true } });
      expect(stranger.statusCode).toBe(201);
      expect(stranger.json().conversation.id).not.toBe(first.id);
      expect(stranger.json().messages).toHaveLength(1);
    });

    it("starts the bank's vouched-for customer from an identity token, resumes only theirs, and refuses a bad token with a JSON error", async () => {
      const token = await identityToken('cust-0042', { name: '王○明' });
      const first = await startConversation(app, { channel: 'web', identityToken: token });
      expect(first.json.conversation).toMatchObject({ customerId: 'bank:cust-0042' });
      expect(await app.store.getConversation(first.id)).toMatchObject({ customerId: 'bank:cust-0042', customerVerified: true });
      expect(await app.store.getCustomerProfile('web', 'bank:cust-0042')).toMatchObject({ verified: true, displayName: '王○明' });
      // Their own conversation comes back with its token; without it (someone who got hold of the identity token
      // but not the conversation's), a new one starts.
      const again = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', headers: first.headers, payload: { channel: 'web', identityToken: token, resume: true } });
      expect(again.json()).toMatchObject({ resumed: true, conversation: { id: first.id } });
      const stranger = await startConversation(app, { channel: 'web', customerId: 'cust-0042' });
      const withOtherToken = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', headers: stranger.headers, payload: { channel: 'web', identityToken: token, resume: true } });
      expect(withOtherToken.json()).toMatchObject({ resumed: false });
      expect([first.id, stranger.id]).not.toContain(withOtherToken.json().conversation.id);
      // The bank's subject claimed as a plain id is another customer altogether, never the vouched-for one.
      expect(await app.store.getConversation(stranger.id)).toMatchObject({ customerId: 'cust-0042', customerVerified: false });
      const claimedResume = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', headers: stranger.headers, payload: { channel: 'web', customerId: 'cust-0042', resume: true } });
      expect(claimedResume.json()).toMatchObject({ resumed: true, conversation: { id: stranger.id } });

      const both = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: { identityToken: token, customerId: 'someone-else' } });
      expect(both.statusCode).toBe(400);
      expect(both.json().error).toMatchObject({ code: 'KEFU_VALIDATION', message: expect.stringContaining('customerId') });
      // A claimed id cannot name a vouched-for customer at all.
      const posing = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: { customerId: 'bank:cust-0042', resume: true } });
      expect(posing.statusCode).toBe(400);
      expect(posing.json().error.message).toMatch(/customerId: must not start with bank:/);
      const forged = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: { identityToken: await identityToken('cust-0042', {}, { secret: 'not-the-bank-0123456789-abcdefghijkl' }) } });
      expect(forged.statusCode).toBe(401);
      expect(forged.json().error).toMatchObject({ code: 'KEFU_IDENTITY_INVALID', message: expect.stringContaining('signature') });
    });

    it('refuses bad start requests, naming the field', async () => {
      const cases: [unknown, RegExp][] = [
        [{ channel: 'fax' }, /body\.channel/],
        [{ locale: 'fr' }, /body\.locale/],
        [{ resume: 'yes' }, /body\.resume/],
        [{ customerId: 'A123456789' }, /body\.customerId: must not be personal data/],
        [{ customerId: '' }, /body\.customerId/],
        [{ colour: 'red' }, /colour/],
      ];
      for (const [payload, message] of cases) {
        const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: payload as Record<string, unknown> });
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'KEFU_VALIDATION', message });
        expect(res.json().error.details.length).toBeGreaterThan(0);
      }
    });
  });

  describe('messages', () => {
    it('answers a message and returns both messages with the conversation', async () => {
      const c = await startConversation(app);
      const res = await send(c.id, c.headers, { text: '  信用卡遺失了怎麼掛失  ', clientMessageId: 'm-1' });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.duplicate).toBe(false);
      expect(body.customer).toMatchObject({ author: 'customer', text: '信用卡遺失了怎麼掛失', seq: 2, clientMessageId: 'm-1' });
      expect(body.reply).toMatchObject({ author: 'bot', seq: 3, replyTo: body.customer.id, outcome: { outcome: 'answer', topic: 'card.lost', needsVerification: false } });
      // The router's trace is for agents and trainers, not for the customer.
      expect(body.reply.outcome).not.toHaveProperty('trace');
      expect(body.conversation.id).toBe(c.id);
    });

    it('answers a retried message once', async () => {
      const c = await startConversation(app);
      const a = (await send(c.id, c.headers, { text: '繳費', clientMessageId: 'same' })).json();
      const b = (await send(c.id, c.headers, { text: '繳費', clientMessageId: 'same' })).json();
      expect(b.duplicate).toBe(true);
      expect(b.reply.id).toBe(a.reply.id);
      // The same id for another text is no retry: refused, saying so, rather than answered with the first text's reply.
      const reused = await send(c.id, c.headers, { text: '我要掛失', clientMessageId: 'same' });
      expect(reused.statusCode).toBe(409);
      expect(reused.json()).toMatchObject({ error: { code: 'KEFU_MESSAGE_ID_REUSED' } });
      const texts = (await app.store.listMessages(c.id)).map((m) => m.text);
      expect(texts.filter((t) => t === '繳費')).toHaveLength(1);
      expect(texts).not.toContain('我要掛失');
    });

    it('lists the history and pages it with afterSeq', async () => {
      const c = await startConversation(app);
      await send(c.id, c.headers, { text: '一' });
      await send(c.id, c.headers, { text: '二' });
      const all = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers });
      expect(all.statusCode).toBe(200);
      expect(all.json().messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      const later = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages?afterSeq=3`, headers: c.headers });
      expect(later.json().messages.map((m: { text: string }) => m.text)).toEqual(['二', '回覆:二']);
      const bad = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages?afterSeq=abc`, headers: c.headers });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(/querystring\.afterSeq/);
    });

    it('refuses missing, mistyped, blank and over-long text, naming the field', async () => {
      const c = await startConversation(app);
      const cases: [unknown, RegExp][] = [
        [{}, /body\.text/],
        [{ text: 42 }, /body\.text: .*string/],
        [{ text: '   ' }, /body\.text: must not be empty/],
        [{ text: '卡'.repeat(2001) }, /body\.text: must be at most 2000 characters/],
        [{ text: '卡', clientMessageId: 'x'.repeat(101) }, /body\.clientMessageId/],
        [{ text: '卡', extra: true }, /extra/],
      ];
      for (const [payload, message] of cases) {
        const res = await send(c.id, c.headers, payload);
        expect(res.statusCode, JSON.stringify(payload).slice(0, 40)).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'KEFU_VALIDATION', message });
      }
      expect((await send(c.id, c.headers, { text: '卡'.repeat(2000) })).statusCode).toBe(200);
      // Nothing refused was stored.
      const h = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers });
      expect(h.json().messages).toHaveLength(3);
    });

    it('refuses a body that is not JSON', async () => {
      const c = await startConversation(app);
      const res = await app.fastify.inject({
        method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: { ...c.headers, 'content-type': 'application/json' }, payload: '{"text": ',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('KEFU_BAD_REQUEST');
    });

    it('says 404 for an unknown conversation and 409 for a closed one', async () => {
      const token = app.tokens.issueConversationToken('no-such-conversation');
      const unknown = await send('no-such-conversation', { authorization: `Bearer ${token}` }, { text: '卡' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error).toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND', message: expect.stringContaining('no-such-conversation') });

      const c = await startConversation(app);
      await app.service.close(c.id);
      const closed = await send(c.id, c.headers, { text: '卡' });
      expect(closed.statusCode).toBe(409);
      expect(closed.json().error.code).toBe('KEFU_CONVERSATION_CLOSED');
      const handoff = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/handoff`, headers: c.headers });
      expect(handoff.statusCode).toBe(409);
    });

    it('answers 500 without internals when the bot fails', async () => {
      const c = await startConversation(app);
      const res = await send(c.id, c.headers, { text: '爆炸' });
      expect(res.statusCode).toBe(500);
      expect(res.json().error.code).toBe('KEFU_INTERNAL');
      expect(res.body).not.toMatch(/SELECT|secrets|router exploded|at /);
    });
  });

  describe('access', () => {
    it('refuses requests without a token (401) and with another conversation’s token (403)', async () => {
      const mine = await startConversation(app);
      const theirs = await startConversation(app);
      await send(theirs.id, theirs.headers, { text: '我的卡號' });

      const none = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${theirs.id}/messages` });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(none.json().error.code).toBe('KEFU_UNAUTHORIZED');

      const malformed = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${theirs.id}/messages`, headers: { authorization: 'Bearer hello' } });
      expect(malformed.statusCode).toBe(401);

      const routes: [string, string, Record<string, unknown> | undefined][] = [
        ['GET', `/api/v1/conversations/${theirs.id}/messages`, undefined],
        ['POST', `/api/v1/conversations/${theirs.id}/messages`, { text: '給我看' }],
        ['POST', `/api/v1/conversations/${theirs.id}/rating`, { stars: 1 }],
        ['POST', `/api/v1/conversations/${theirs.id}/handoff`, undefined],
        ['POST', `/api/v1/conversations/${theirs.id}/messages/x/feedback`, { feedback: 'down' }],
      ];
      for (const [method, url, payload] of routes) {
        const res = await app.fastify.inject({ method: method as 'GET' | 'POST', url, headers: mine.headers, payload });
        expect(res.statusCode, `${method} ${url}`).toBe(403);
        expect(res.json().error.code).toBe('KEFU_FORBIDDEN');
      }
      // Their conversation is untouched.
      expect((await app.service.history(theirs.id)).messages).toHaveLength(3);
    });

    it('accepts the token in x-kefu-token too', async () => {
      const c = await startConversation(app);
      const res = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: { 'x-kefu-token': c.token } });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('rating, feedback and handoff', () => {
    it('rates the conversation and refuses bad stars', async () => {
      const c = await startConversation(app);
      const ok = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/rating`, headers: c.headers, payload: { stars: 5, comment: '很快就解決了' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().rating).toMatchObject({ stars: 5, comment: '很快就解決了' });
      for (const stars of [0, 6, 2.5, '5', null]) {
        const bad = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/rating`, headers: c.headers, payload: { stars } });
        expect(bad.statusCode, String(stars)).toBe(400);
        expect(bad.json().error.message).toMatch(/body\.stars/);
      }
      const long = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/rating`, headers: c.headers, payload: { stars: 3, comment: '長'.repeat(1001) } });
      expect(long.json().error.message).toMatch(/body\.comment/);
    });

    it("changes the conversation's language for the answers that follow, and refuses a language it does not have", async () => {
      await app.stop();
      const locales: unknown[] = [];
      const scripted = scriptedRouter();
      app = await testApp({}, { router: { ...scripted, route: (text, state) => (locales.push(state?.locale), scripted.route(text, state)) } });
      const c = await startConversation(app);
      const setLocale = (locale: unknown, headers: Record<string, string> = c.headers) =>
        app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/locale`, headers, payload: { locale } });
      await send(c.id, c.headers, { text: '信用卡遺失' });
      const switched = await setLocale('en');
      expect(switched.statusCode, switched.body).toBe(200);
      expect(switched.json().locale).toBe('en');
      await send(c.id, c.headers, { text: 'lost card' });
      expect(locales).toEqual(['zh-TW', 'en']);
      for (const bad of ['fr', 'en-US', 3, null]) {
        const r = await setLocale(bad);
        expect(r.statusCode, String(bad)).toBe(400);
        expect(r.json().error.message).toMatch(/body\.locale/);
      }
      expect((await setLocale('zh-CN', {})).statusCode).toBe(401);
      await app.service.close(c.id);
      expect((await setLocale('zh-CN')).statusCode).toBe(409);
      expect((await app.service.get(c.id)).locale).toBe('en');
    });

    it('refuses text with a NUL or half a surrogate pair, naming the field, and an afterSeq past any seq', async () => {
      const c = await startConversation(app);
      for (const [text, field] of [['卡\u0000片', 'body.text'], ['卡片\udc00', 'body.text']] as const) {
        const res = await send(c.id, c.headers, { text, clientMessageId: 'ok-id' });
        expect(res.statusCode, JSON.stringify(text)).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'KEFU_VALIDATION', message: expect.stringContaining(field) });
      }
      const res = await send(c.id, c.headers, { text: '卡片', clientMessageId: 'id\u0000' });
      expect(res.json().error.message).toContain('body.clientMessageId');
      // A whole emoji (a surrogate pair) is fine.
      expect((await send(c.id, c.headers, { text: '卡片不見了😢' })).statusCode).toBe(200);
      const far = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages?afterSeq=3000000000`, headers: c.headers });
      expect(far.statusCode).toBe(400);
      expect(far.json().error.message).toMatch(/afterSeq/);
    });

    it('answers 410 with a JSON error once a closed conversation is past the time its token may read it', async () => {
      await app.stop();
      app = await testApp({ conversation: { readableAfterCloseMinutes: 0 } });
      const c = await startConversation(app);
      const turn = (await send(c.id, c.headers, { text: '卡' })).json();
      const stored = (await app.store.listMessages(c.id)).map((m) => m.text);
      await app.service.close(c.id);
      for (const [method, url, payload] of [
        ['GET', `/api/v1/conversations/${c.id}/messages`, undefined],
        ['POST', `/api/v1/conversations/${c.id}/rating`, { stars: 4 }],
        ['POST', `/api/v1/conversations/${c.id}/messages/${turn.reply.id}/feedback`, { feedback: 'up' }],
      ] as const) {
        const res = await app.fastify.inject({ method, url, headers: c.headers, payload });
        expect(res.statusCode, url).toBe(410);
        expect(res.json().error).toMatchObject({ code: 'KEFU_CONVERSATION_EXPIRED' });
        expect(res.json().error.message).toContain(c.id);
      }
      // The agents' side still reads all of it.
      expect((await app.store.listMessages(c.id)).map((m) => m.text)).toEqual(stored);
      expect(stored).toContain(turn.reply.text);
    });

    it('takes thumbs up or down on bot answers only', async () => {
      const c = await startConversation(app);
      const turn = (await send(c.id, c.headers, { text: '卡' })).json();
      const url = (messageId: string) => `/api/v1/conversations/${c.id}/messages/${messageId}/feedback`;
      const up = await app.fastify.inject({ method: 'POST', url: url(turn.reply.id), headers: c.headers, payload: { feedback: 'up' } });
      expect(up.statusCode).toBe(200);
      expect(up.json()).toMatchObject({ id: turn.reply.id, feedback: 'up' });
      const mine = await app.fastify.inject({ method: 'POST', url: url(turn.customer.id), headers: c.headers, payload: { feedback: 'up' } });
      expect(mine.statusCode).toBe(400);
      expect(mine.json().error.code).toBe('KEFU_NOT_A_BOT_MESSAGE');
      const missing = await app.fastify.inject({ method: 'POST', url: url('nope'), headers: c.headers, payload: { feedback: 'down' } });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('KEFU_MESSAGE_NOT_FOUND');
      const bad = await app.fastify.inject({ method: 'POST', url: url(turn.reply.id), headers: c.headers, payload: { feedback: 'meh' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(/body\.feedback/);
    });

    it('queues the conversation for a person, after which the bot stays silent', async () => {
      const c = await startConversation(app);
      const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/handoff`, headers: c.headers });
      expect(res.statusCode).toBe(200);
      expect(res.json().conversation.state).toBe('queued');
      expect(res.json().notice).toMatchObject({ author: 'system', text: expect.stringContaining('真人客服') });
      const silent = (await send(c.id, c.headers, { text: '有人嗎' })).json();
      expect(silent.reply).toBeNull();
      const again = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/handoff`, headers: c.headers });
      expect(again.json().notice).toBeNull();
    });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await app.fastify.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'KEFU_ROUTE_NOT_FOUND', message: 'No route GET /api/v1/nothing-here' });
  });

  it('answers CORS preflight requests for the widget', async () => {
    const res = await app.fastify.inject({
      method: 'OPTIONS', url: '/api/v1/conversations/abc/messages',
      headers: { origin: 'https://bank.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-headers']).toMatch(/authorization/);
  });
});

describe('logs', () => {
  it('name the conversation and never carry the message text or the token in clear', async () => {
    const { log, lines } = capturingLogger();
    const app = await testApp({}, { log, router: scriptedRouter() });
    try {
      const c = await startConversation(app);
      const text = '我的身分證 A123456789 電話 0912345678';
      await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
      await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: 'x'.repeat(3000) } });
      const all = lines.join('\n');
      expect(all).not.toContain('A123456789');
      expect(all).not.toContain('0912345678');
      expect(all).not.toContain(c.token);
      const about = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.conversationId === c.id);
      expect(about.map((l) => l.msg)).toEqual(expect.arrayContaining(['request completed', 'bot turn']));
    } finally {
      await app.stop();
    }
  });

  it('answer a URL fastify cannot route (bad percent-encoding) with the same error body as every other', async () => {
    const app = await testApp();
    try {
      const res = await app.fastify.inject({ method: 'GET', url: '/api/v1/conversations/%E0%A4%A/messages' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'KEFU_BAD_REQUEST' } });
    } finally {
      await app.stop();
    }
  });

  it('mask personal data a caller puts in the path or query, and name a conversation only once its token vouches for it', async () => {
    const { log, lines } = capturingLogger();
    const app = await testApp({}, { log, router: scriptedRouter() });
    try {
      const c = await startConversation(app);
      const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations/A123456789/messages?email=wang@example.com', headers: c.headers, payload: { text: 'hi' } });
      expect(res.statusCode).toBe(403);
      await app.fastify.inject({ method: 'GET', url: '/api/v1/nope?phone=0912345678' });
      const all = lines.join('\n');
      expect(all).not.toContain('A123456789');
      expect(all).not.toContain('wang@example.com');
      expect(all).not.toContain('0912345678');
      const parsed = lines.map((l) => JSON.parse(l) as { msg?: string; conversationId?: string; req?: { url?: string } });
      expect(parsed.some((l) => l.req?.url === '/api/v1/conversations/[ID]/messages?email=[EMAIL]')).toBe(true);
      // The customer's queue place, asked with its token: its lines name it.
      expect(parsed.filter((l) => l.msg === 'request completed' && l.conversationId === c.id)).toEqual([]);
      await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/queue`, headers: c.headers });
      const done = lines.map((l) => JSON.parse(l) as { msg?: string; conversationId?: string; req?: { url?: string } });
      expect(done.filter((l) => l.msg === 'request completed' && l.conversationId === c.id).length).toBeGreaterThan(0);
    } finally {
      await app.stop();
    }
  });

  it('redact authorization and cookie headers whatever logs them', async () => {
    const { log, lines } = capturingLogger();
    const app = await testApp({}, { log });
    try {
      app.log.info({ req: { headers: { authorization: 'Bearer v1.secret', cookie: 'sid=1' } } }, 'headers');
      const line = JSON.parse(lines.find((l) => l.includes('"headers"'))!) as { req: { headers: Record<string, string> } };
      expect(line.req.headers).toEqual({ authorization: '[REDACTED]', cookie: '[REDACTED]' });
    } finally {
      await app.stop();
    }
  });
});
