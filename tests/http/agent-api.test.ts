import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { KefuApp } from '../../src/app.ts';
import type { Agent } from '../../src/domain/agent.ts';
import { identityToken, startConversation } from './test-app.ts';
import { baseUrl, consoleApp, signIn, type SignedInAgent } from './console-kit.ts';

type Customer = Awaited<ReturnType<typeof startConversation>>;

describe('agent console API', () => {
  let app: KefuApp;
  beforeEach(async () => {
    app = await consoleApp();
  });
  afterEach(async () => {
    await app.stop();
  });

  const say = async (c: Customer, text: string) => {
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect(res.statusCode, res.body).toBe(200);
    await app.handoff.idle();
    return res.json() as { reply: { text: string; author: string } | null; conversation: { state: string } };
  };
  const customerHistory = async (c: Customer) => {
    const res = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers });
    expect(res.statusCode).toBe(200);
    return res.json() as { conversation: { state: string }; messages: { author: string; text: string }[] };
  };
  const as = (agent: SignedInAgent, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    app.fastify.inject({ method, url: `/api/v1/agent${url}`, headers: agent.headers, ...(payload ? { payload } : {}) });
  const queueOf = async (agent: SignedInAgent) => {
    const res = await as(agent, 'GET', '/queue');
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { items: { handoff: { conversationId: string; group: string; priority: number; kind: string; trigger: string; topic: string | null }; preview: { text: string } | null }[] }).items;
  };
  // Puts an agent on duty the way an open console does (the socket tests open real ones).
  const onDuty = async (agent: SignedInAgent) => {
    app.presence.connect((await app.store.getAgent(agent.id)) as Agent, `console-of-${agent.username}`);
    await app.handoff.idle();
  };
  const claim = (agent: SignedInAgent, c: Customer) => as(agent, 'POST', `/conversations/${c.id}/claim`);

  describe('triggers', () => {
    it('queues a router handoff (fraud.report) in the bank group, first, and offers a call back while nobody is on duty', async () => {
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const first = await startConversation(app);
      await say(first, '我要找真人');
      const fraud = await startConversation(app);
      const turn = await say(fraud, '我的卡被盜刷了');
      expect(turn.reply?.text).toBe('回覆:我的卡被盜刷了');
      expect(turn.conversation.state).toBe('queued');

      const queue = await queueOf(bank);
      expect(queue.map((i) => i.handoff.conversationId)).toEqual([fraud.id, first.id]);
      expect(queue[0]!.handoff).toMatchObject({ group: 'bank', priority: 1, kind: 'chat', trigger: 'router', topic: 'fraud.report' });
      expect(queue[0]!.preview?.text).toBe('我的卡被盜刷了');
      // human.agent is a common topic and the conversation said nothing else: the default group, which everyone serves.
      expect(queue[1]!.handoff).toMatchObject({ group: 'default', priority: 0, topic: 'human.agent' });
      expect((await queueOf(life)).map((i) => i.handoff.conversationId)).toEqual([first.id]);

      // Nobody had a console open: the customer is offered to leave a message.
      const { messages } = await customerHistory(fraud);
      expect(messages.at(-1)).toMatchObject({ author: 'system', text: expect.stringContaining('目前沒有專員在線上') });
      const pos = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${fraud.id}/queue`, headers: fraud.headers });
      expect(pos.json().position).toMatchObject({ position: 1, agentsOnline: 0, callbackOffered: true, group: 'bank' });
    });

    it('tells a waiting customer their place and expected wait when an agent is on duty', async () => {
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      await onDuty(bank);
      const a = await startConversation(app);
      await say(a, '信用卡掉了');
      await say(a, '我要找真人');
      const b = await startConversation(app);
      await say(b, '卡片不見了');
      await say(b, '我要找真人');
      // Both asked about cards before asking for a person: the bank group, by the conversation's latest topic.
      expect((await queueOf(bank)).map((i) => [i.handoff.conversationId, i.handoff.group])).toEqual([[a.id, 'bank'], [b.id, 'bank']]);
      expect((await customerHistory(a)).messages.at(-1)?.text).toMatch(/^目前排在第 1 位，預計等候約 \d+ 分鐘/);
      expect((await customerHistory(b)).messages.at(-1)?.text).toMatch(/^目前排在第 2 位，預計等候約 \d+ 分鐘/);
      const before = (await app.handoff.position(b.id))!;
      expect(before).toMatchObject({ position: 2, agentsOnline: 1, callbackOffered: false });
      // With no history the estimate is the default handling time (300 s) over one agent serving two chats: 150 s a place.
      expect(before.expectedWaitSeconds).toBe(300);

      expect((await claim(bank, a)).statusCode).toBe(200);
      await app.handoff.idle();
      expect(await app.handoff.position(b.id)).toMatchObject({ position: 1, expectedWaitSeconds: 150 });
    });

    it("queues the widget's 轉真人客服 button in the group of what the customer was asking about", async () => {
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const c = await startConversation(app);
      await say(c, '保單要怎麼查');
      const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/handoff`, headers: c.headers });
      expect(res.statusCode).toBe(200);
      await app.handoff.idle();
      expect((await queueOf(life))[0]?.handoff).toMatchObject({ conversationId: c.id, trigger: 'button', group: 'life', priority: 0 });
    });

    it('hands off after fallbacks in a row, with no topic', async () => {
      const agent = await signIn(app, 'a1');
      const c = await startConversation(app);
      expect((await say(c, '???')).conversation.state).toBe('bot');
      expect((await say(c, '??? ???')).conversation.state).toBe('queued');
      expect((await queueOf(agent))[0]?.handoff).toMatchObject({ conversationId: c.id, trigger: 'router', topic: null, group: 'default' });
    });

    it('lets an agent pull a conversation from the live list; the customer is told who joined and the bot stops answering', async () => {
      const xiaomei = await signIn(app, 'xiaomei', { name: '小美' });
      const c = await startConversation(app);
      await say(c, '信用卡掉了怎麼辦');
      const idle = await startConversation(app); // only the greeting: nothing to pull
      const live = await as(xiaomei, 'GET', '/conversations/live');
      expect(live.statusCode).toBe(200);
      const listed = live.json().conversations as { conversation: { id: string; state: string }; preview: { text: string }; lastOutcome: unknown }[];
      expect(listed.map((l) => l.conversation.id)).toEqual([c.id]);
      expect(listed.map((l) => l.conversation.id)).not.toContain(idle.id);
      expect(listed[0]).toMatchObject({ preview: { text: '信用卡掉了怎麼辦' }, lastOutcome: { outcome: 'answer', topic: 'card.lost' } });

      const res = await claim(xiaomei, c);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ conversation: { state: 'agent' }, handoff: { trigger: 'pull', status: 'claimed', agentId: xiaomei.id, group: 'bank' } });
      expect(res.json().handoff.claimedAt).toBe(res.json().handoff.queuedAt);
      expect((await customerHistory(c)).messages.at(-1)).toEqual(expect.objectContaining({ author: 'system', text: '專員 小美 已加入對話。' }));
      expect((await say(c, '你好')).reply).toBeNull();
      expect((await as(xiaomei, 'GET', '/conversations/live')).json().conversations).toEqual([]);
      expect((await as(xiaomei, 'GET', '/conversations/mine')).json().items.map((i: { conversation: { id: string } }) => i.conversation.id)).toEqual([c.id]);
    });
  });

  describe('the live list', () => {
    it("lists each conversation for its answers' group from the rows it reads, with no read per conversation", async () => {
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const card = await startConversation(app, { customerId: 'live-card' });
      await say(card, '信用卡掉了');
      await say(card, '???'); // the latest answer names no group: still the bank's
      const policy = await startConversation(app, { customerId: 'live-policy' });
      await say(policy, '保單怎麼查');
      await say(policy, '???');
      const plain = await startConversation(app, { customerId: 'live-plain' });
      await say(plain, '???');
      const reads: string[] = [];
      const latest = app.store.latestMessages.bind(app.store);
      app.store.latestMessages = (id, n) => (reads.push(id), latest(id, n));
      const liveOf = async (agent: SignedInAgent) => ((await as(agent, 'GET', '/conversations/live')).json().conversations as { conversation: { id: string } }[]).map((l) => l.conversation.id);
      expect((await liveOf(bank)).sort()).toEqual([card.id, plain.id].sort());
      expect((await liveOf(life)).sort()).toEqual([policy.id, plain.id].sort());
      expect(reads).toEqual([]);
    });

    it("shows a small group's conversation however many of other groups' came after it", async () => {
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const policy = await startConversation(app, { customerId: 'live-small-group' });
      await say(policy, '保單怎麼查');
      // More bank conversations since than the list's hundred, written straight to the store (a hundred chats would be slow).
      const { outcome } = (await app.store.latestMessages(policy.id, 1))[0]!; // the bot's answer, as stored
      for (let i = 0; i < 101; i++) {
        const c = await app.store.createConversation({ channel: 'web', customerId: `bank-crowd-${i}`, locale: 'zh-TW' });
        await app.store.appendMessage({ conversationId: c.id, author: 'customer', text: '信用卡掉了' });
        await app.store.appendMessage({ conversationId: c.id, author: 'bot', text: '請撥打掛失專線', outcome, topicGroup: 'bank' });
      }
      const listed = ((await as(life, 'GET', '/conversations/live')).json().conversations as { conversation: { id: string } }[]).map((l) => l.conversation.id);
      expect(listed).toEqual([policy.id]);
    });
  });

  describe('claiming', () => {
    it('lets exactly one of ten agents claiming at once over HTTP win; the others get 409 naming the winner', async () => {
      const agents = await Promise.all(Array.from({ length: 10 }, (_, i) => signIn(app, `racer${i}`, { name: `專員${i}` })));
      const c = await startConversation(app);
      await say(c, '我要找真人');
      await app.start();
      const results = await Promise.all(agents.map(async (a) => {
        const res = await fetch(`${baseUrl(app)}/api/v1/agent/conversations/${c.id}/claim`, { method: 'POST', headers: a.headers });
        return { agent: a, status: res.status, body: (await res.json()) as { handoff?: { agentId: string }; error?: { code: string; message: string } } };
      }));
      const won = results.filter((r) => r.status === 200);
      expect(won).toHaveLength(1);
      const winner = won[0]!.agent;
      expect(won[0]!.body.handoff?.agentId).toBe(winner.id);
      const lost = results.filter((r) => r.status !== 200);
      expect(lost).toHaveLength(9);
      for (const r of lost) {
        expect(r.status).toBe(409);
        // The winner is named for people in the message, and for the console as facts it can act on.
        expect(r.body.error).toEqual({
          code: 'KEFU_ALREADY_CLAIMED', message: expect.stringContaining(winner.displayName), details: { ownerAgentId: winner.id, ownerName: winner.displayName },
        });
      }
      expect((await app.store.listHandoffs(c.id)).map((h) => [h.status, h.agentId])).toEqual([['claimed', winner.id]]);
      // The winner claiming again (a retry) gets the same answer rather than an error.
      expect((await claim(winner, c)).statusCode).toBe(200);
      // One join notice only.
      expect((await customerHistory(c)).messages.filter((m) => m.text.startsWith('專員')).length).toBe(1);
    });

    it("keeps another group's customers from an agent: no history, notes, suggestions, watching, pulling or live list; a transfer only to a known group", async () => {
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      const admin = await signIn(app, 'boss', { role: 'admin', groups: [] });
      const c = await startConversation(app);
      await say(c, '卡被盜刷');
      for (const [method, url, payload] of [
        ['GET', `/conversations/${c.id}`, undefined], ['POST', `/conversations/${c.id}/notes`, { text: 'was here' }], ['GET', `/conversations/${c.id}/suggestions`, undefined],
      ] as const) {
        const res = await as(life, method, url, payload);
        expect([url, res.statusCode, res.json().error?.code]).toEqual([url, 403, 'KEFU_CONVERSATION_FORBIDDEN']);
      }
      expect((await as(bank, 'GET', `/conversations/${c.id}`)).statusCode).toBe(200);
      expect((await as(admin, 'GET', `/conversations/${c.id}`)).statusCode).toBe(200);
      expect(await app.store.listNotes(c.id)).toEqual([]);
      // Held by the bank's agent: still not the life agent's to read; the holder's, and (once transferred on) still theirs.
      expect((await claim(bank, c)).statusCode).toBe(200);
      expect((await as(life, 'GET', `/conversations/${c.id}`)).statusCode).toBe(403);
      expect((await as(bank, 'POST', `/conversations/${c.id}/transfer`, { group: 'no-such-group' })).json().error.code).toBe('KEFU_VALIDATION');
      expect((await as(bank, 'POST', `/conversations/${c.id}/transfer`, { group: 'life' })).statusCode).toBe(200);
      expect((await as(bank, 'GET', `/conversations/${c.id}`)).statusCode).toBe(200);
      expect((await as(life, 'GET', `/conversations/${c.id}`)).statusCode).toBe(200);

      // With the bot: a bank question is not in the life agent's live list, nor theirs to pull.
      const withBot = await startConversation(app, { customerId: 'bot-customer' });
      await say(withBot, '信用卡遺失了怎麼辦');
      const liveOf = async (agent: SignedInAgent) => ((await as(agent, 'GET', '/conversations/live')).json().conversations as { conversation: { id: string } }[]).map((l) => l.conversation.id);
      expect(await liveOf(bank)).toContain(withBot.id);
      expect(await liveOf(life)).not.toContain(withBot.id);
      expect((await claim(life, withBot)).json().error.code).toBe('KEFU_GROUP_FORBIDDEN');
      expect((await as(life, 'GET', `/conversations/${withBot.id}`)).statusCode).toBe(403);
    });

    it("refuses a claim from outside the conversation's group, and one of a transfer addressed to someone else", async () => {
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      const bank2 = await signIn(app, 'bank2', { groups: ['bank'] });
      const admin = await signIn(app, 'boss', { role: 'admin', groups: [] });
      const c = await startConversation(app);
      await say(c, '卡被盜刷');
      const res = await claim(life, c);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('KEFU_GROUP_FORBIDDEN');
      expect((await queueOf(admin)).map((i) => i.handoff.conversationId)).toEqual([c.id]);

      expect((await claim(bank, c)).statusCode).toBe(200);
      expect((await as(bank, 'POST', `/conversations/${c.id}/transfer`, { agentId: bank2.id })).statusCode).toBe(200);
      expect(await queueOf(bank)).toEqual([]);
      expect((await queueOf(bank2)).map((i) => i.handoff.conversationId)).toEqual([c.id]);
      expect((await claim(bank, c)).json().error.code).toBe('KEFU_NOT_CONVERSATION_OWNER');

      // The consoles' pushes read the queue once for everyone: each agent's part is what their own read gives.
      const other = await startConversation(app, { customerId: 'life-customer' });
      await say(other, '保單問題 真人');
      const urgent = await startConversation(app, { customerId: 'urgent-customer' });
      await say(urgent, '又被盜刷');
      const trainer = await signIn(app, 'trainer1', { role: 'trainer', groups: [] });
      const accounts = await Promise.all([life, bank, bank2, admin, trainer].map(async (a) => (await app.store.getAgent(a.id)) as Agent));
      const all = await app.handoff.queues(accounts);
      expect([...all.keys()]).toEqual([life.id, bank.id, bank2.id, admin.id]);
      // (Waiting times are as of each read, which may round to another second.)
      const timeless = (items: { waitingSeconds: number }[]) => items.map(({ waitingSeconds: _w, ...rest }) => rest);
      for (const a of accounts.slice(0, 4)) expect(timeless(all.get(a.id)!), a.username).toEqual(timeless(await app.handoff.queue(a)));
      expect(all.get(bank2.id)!.map((i) => i.handoff.conversationId)).toEqual(expect.arrayContaining([c.id, urgent.id]));
      expect(all.get(bank.id)!.map((i) => i.handoff.conversationId)).not.toContain(c.id);
      expect((await claim(bank2, c)).statusCode).toBe(200);
    });
  });

  describe('roles', () => {
    it('refuses agent routes without a session, with a customer token, and to a trainer', async () => {
      const c = await startConversation(app);
      const trainer = await signIn(app, 'trainer1', { role: 'trainer', groups: [] });
      const cases: [Record<string, string>, number, string][] = [
        [{}, 401, 'KEFU_SESSION_REQUIRED'],
        [c.headers, 401, 'KEFU_SESSION_REQUIRED'],
        [{ authorization: 'Bearer ks1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, 401, 'KEFU_SESSION_REQUIRED'],
        [{ cookie: `kefu_session=${c.token}` }, 401, 'KEFU_SESSION_REQUIRED'],
        [trainer.headers, 403, 'KEFU_ROLE_FORBIDDEN'],
      ];
      for (const [headers, status, code] of cases) {
        for (const [method, url] of [['GET', '/queue'], ['POST', `/conversations/${c.id}/claim`], ['GET', `/conversations/${c.id}`]] as const) {
          const res = await app.fastify.inject({ method, url: `/api/v1/agent${url}`, headers });
          expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(status);
          expect(res.json().error.code).toBe(code);
        }
      }
      expect((await app.store.getConversation(c.id))?.state).toBe('bot');
    });

    it('lets trainers and admins, and nobody else, reach trainer routes', async () => {
      const agent = await signIn(app, 'agent1');
      const trainer = await signIn(app, 'trainer1', { role: 'trainer', groups: [] });
      const admin = await signIn(app, 'admin1', { role: 'admin', groups: [] });
      const whoami = (headers: Record<string, string>) => app.fastify.inject({ method: 'GET', url: '/api/v1/trainer/whoami', headers });
      const refused = await whoami(agent.headers);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error).toMatchObject({ code: 'KEFU_ROLE_FORBIDDEN', message: 'The agent role cannot use the trainer console' });
      expect((await whoami(trainer.headers)).json().agent).toMatchObject({ username: 'trainer1', role: 'trainer' });
      expect((await whoami(admin.headers)).statusCode).toBe(200);
      expect((await as(admin, 'GET', '/queue')).statusCode).toBe(200);
      expect((await whoami({})).statusCode).toBe(401);
    });
  });

  describe('serving a conversation', () => {
    const queuedAndClaimed = async (agent: SignedInAgent) => {
      const c = await startConversation(app);
      await say(c, '信用卡掉了');
      await say(c, '我要找真人');
      const res = await claim(agent, c);
      expect(res.statusCode, res.body).toBe(200);
      await app.handoff.idle();
      return c;
    };

    it("sends the agent's message to the customer, timing the first reply, and refuses other agents", async () => {
      const agent = await signIn(app, 'xiaomei', { name: '小美' });
      const other = await signIn(app, 'other');
      const c = await queuedAndClaimed(agent);
      const res = await as(agent, 'POST', `/conversations/${c.id}/messages`, { text: '您好，我是小美，請問卡片是何時遺失的？' });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().message).toMatchObject({ author: 'agent', text: '您好，我是小美，請問卡片是何時遺失的？' });
      expect((await customerHistory(c)).messages.at(-1)).toMatchObject({ author: 'agent', text: '您好，我是小美，請問卡片是何時遺失的？' });
      const [h] = await app.store.listHandoffs(c.id);
      expect(h?.firstReplyAt).not.toBeNull();
      await as(agent, 'POST', `/conversations/${c.id}/messages`, { text: '第二句' });
      expect((await app.store.listHandoffs(c.id))[0]?.firstReplyAt).toBe(h?.firstReplyAt);

      const refused = await as(other, 'POST', `/conversations/${c.id}/messages`, { text: '我來' });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error).toMatchObject({ code: 'KEFU_NOT_CONVERSATION_OWNER', message: expect.stringContaining('小美') });
      expect((await as(agent, 'POST', `/conversations/${c.id}/messages`, { text: '  ' })).statusCode).toBe(400);
    });

    it('sends a message retried with the same clientMessageId once, even after the conversation moved on, under the agent\'s name', async () => {
      const agent = await signIn(app, 'ming', { name: '王小明' });
      const c = await queuedAndClaimed(agent);
      expect((await customerHistory(c)).conversation).toMatchObject({ state: 'agent', agentName: '王小明' });
      const send = (clientMessageId: string, text = '您好，請問卡片何時遺失？') => as(agent, 'POST', `/conversations/${c.id}/messages`, { text, clientMessageId });
      const first = await send('m-1');
      expect(first.statusCode, first.body).toBe(201);
      expect(first.json()).toMatchObject({ duplicate: false, message: { clientMessageId: 'm-1', agentId: agent.id, agentName: '王小明' } });
      const retry = await send('m-1');
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toEqual({ duplicate: true, message: first.json().message });
      const agentLines = async () => (await customerHistory(c)).messages.filter((m) => m.author === 'agent');
      // The customer's history names the writer (and only by name).
      expect(await agentLines()).toEqual([expect.objectContaining({ text: '您好，請問卡片何時遺失？', agentName: '王小明' })]);
      expect((await agentLines())[0]).not.toHaveProperty('agentId');
      const [episode] = await app.store.listHandoffs(c.id);

      // Returned to the bot, then the answer to the first attempt is lost and the console tries again: not refused, not sent twice.
      expect((await as(agent, 'POST', `/conversations/${c.id}/return`)).statusCode).toBe(200);
      expect((await send('m-1')).json()).toMatchObject({ duplicate: true, message: { id: first.json().message.id } });
      expect(await agentLines()).toHaveLength(1);
      expect((await app.store.getHandoff(episode!.id))?.firstReplyAt).toBe(episode!.firstReplyAt);
      // A new message still needs the conversation in hand.
      expect((await send('m-2', '還在嗎')).statusCode).toBe(409);
    });

    it('lets an admin transfer, return or close a conversation someone else holds, but not speak in it', async () => {
      const agent = await signIn(app, 'a1', { name: '小美' });
      const admin = await signIn(app, 'boss', { role: 'admin', groups: [] });
      const c = await queuedAndClaimed(agent);
      const speak = await as(admin, 'POST', `/conversations/${c.id}/messages`, { text: '我是主管' });
      expect(speak.statusCode).toBe(403);
      expect(speak.json().error.code).toBe('KEFU_NOT_CONVERSATION_OWNER');
      const back = await as(admin, 'POST', `/conversations/${c.id}/return`);
      expect(back.statusCode, back.body).toBe(200);
      expect(back.json().handoff).toMatchObject({ endReason: 'returned', endedBy: admin.id, agentId: agent.id });
    });

    it('keeps internal notes out of every customer view', async () => {
      const agent = await signIn(app, 'a1');
      const c = await queuedAndClaimed(agent);
      const res = await as(agent, 'POST', `/conversations/${c.id}/notes`, { text: '客戶語氣激動，疑似詐騙受害' });
      expect(res.statusCode).toBe(201);
      expect(res.json().note).toMatchObject({ text: '客戶語氣激動，疑似詐騙受害', agentId: agent.id, agentName: 'a1' });
      const history = await customerHistory(c);
      expect(JSON.stringify(history)).not.toContain('疑似詐騙');
      const detail = (await as(agent, 'GET', `/conversations/${c.id}`)).json();
      expect(detail.notes.map((n: { text: string }) => n.text)).toEqual(['客戶語氣激動，疑似詐騙受害']);
      expect(JSON.stringify(detail.messages)).not.toContain('疑似詐騙');
    });

    it("shows the whole history with each bot turn's trace, the handoff timers and the profile of a verified customer", async () => {
      const agent = await signIn(app, 'xiaomei', { name: '小美' });
      const c = await queuedAndClaimed(agent);
      await as(agent, 'POST', `/conversations/${c.id}/messages`, { text: '您好' });
      let detail = (await as(agent, 'GET', `/conversations/${c.id}`)).json();
      expect(detail.conversation).toMatchObject({ id: c.id, state: 'agent', consecutiveFallbacks: 0 });
      expect(detail.messages.map((m: { author: string }) => m.author)).toEqual(['bot', 'customer', 'bot', 'customer', 'bot', 'system', 'system', 'agent']);
      const botTurn = detail.messages[2];
      expect(botTurn.outcome).toMatchObject({ outcome: 'answer', topic: 'card.lost', brain: 'faq', trace: { rule: 'test', normalised: '信用卡掉了' } });
      expect(detail.messages.at(-1)).toMatchObject({ author: 'agent', agentId: agent.id, agentName: '小美' });
      expect(detail.handoffs).toHaveLength(1);
      expect(detail.handoffs[0]).toMatchObject({ status: 'claimed', agentName: '小美', timers: { waitSeconds: expect.any(Number), firstReplySeconds: expect.any(Number), handlingSeconds: expect.any(Number) } });
      expect(detail.customer).toEqual({ channel: 'api', customerId: expect.any(String), verified: false, profile: null });

      const customerId = detail.customer.customerId as string;
      await app.store.upsertCustomerProfile({ channel: 'api', customerId, verified: false, verifiedAt: null, displayName: '王○明', data: { segment: '一般' } });
      expect((await as(agent, 'GET', `/conversations/${c.id}`)).json().customer).toMatchObject({ verified: false, profile: null });
      // A verified profile under that id is still not shown: the customer only claimed the id.
      await app.store.upsertCustomerProfile({ channel: 'api', customerId, verified: true, verifiedAt: '2025-01-01T00:00:00.000Z', displayName: '王○明', data: { segment: '財富管理' } });
      expect((await as(agent, 'GET', `/conversations/${c.id}`)).json().customer).toEqual({ channel: 'api', customerId, verified: false, profile: null });

      // Started with the bank's identity token: the agent sees who it is, with what the token said.
      const vouched = await startConversation(app, { identityToken: await identityToken('cust-0042', { name: '陳○華', profile: { segment: '財富管理', phone: '0912345678' } }) });
      await say(vouched, '我要找真人');
      expect((await claim(agent, vouched)).statusCode).toBe(200);
      detail = (await as(agent, 'GET', `/conversations/${vouched.id}`)).json();
      expect(detail.customer).toMatchObject({ customerId: 'bank:cust-0042', verified: true, profile: { displayName: '陳○華', data: { segment: '財富管理' } } });
      // Personal data the bank left in clear is masked before an agent sees it.
      expect(detail.customer.profile.data.phone).not.toContain('0912345678');
      expect((await as(agent, 'GET', '/conversations/nope')).statusCode).toBe(404);
    });

    it("suggests the FAQ brain's answers for the customer's latest message", async () => {
      const agent = await signIn(app, 'a1');
      const c = await queuedAndClaimed(agent);
      await say(c, '卡片昨天在捷運上掉的');
      const res = await as(agent, 'GET', `/conversations/${c.id}/suggestions?k=1`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        message: { author: 'customer', text: '卡片昨天在捷運上掉的' },
        suggestions: [{ topic: 'card.lost', title: '信用卡遺失', answer: '掛失說明（卡片昨天在捷運上掉的）', confidence: 0.91 }],
      });
      expect((await as(agent, 'GET', `/conversations/${c.id}/suggestions`)).json().suggestions).toHaveLength(2);
      expect((await as(agent, 'GET', `/conversations/${c.id}/suggestions?k=99`)).statusCode).toBe(400);
    });

    it('suggests for what the customer needs, not for "我要找真人" or what the bot could not make out', async () => {
      const agent = await signIn(app, 'a2');
      const c = await startConversation(app, { customerId: 'suggest-what-matters' });
      await say(c, '卡片昨天在捷運上掉的');
      await say(c, '???');
      await say(c, '我要找真人');
      expect((await claim(agent, c)).statusCode).toBe(200);
      const r = (await as(agent, 'GET', `/conversations/${c.id}/suggestions?k=1`)).json();
      expect(r.message).toMatchObject({ text: '卡片昨天在捷運上掉的' });
      // Said after the handoff (no bot answer to it), it is what the customer needs now.
      await say(c, '我的卡被人盜刷');
      expect((await as(agent, 'GET', `/conversations/${c.id}/suggestions?k=1`)).json().message).toMatchObject({ text: '我的卡被人盜刷' });
    });

    it('transfers to another group: back in the queue for that group, the customer told, the first agent out', async () => {
      const bank = await signIn(app, 'bank1', { groups: ['bank'] });
      const life = await signIn(app, 'life1', { groups: ['life'] });
      const c = await queuedAndClaimed(bank);
      const res = await as(bank, 'POST', `/conversations/${c.id}/transfer`, { group: 'life', note: '保單問題，請壽險組協助' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ conversation: { state: 'queued' }, handoff: { status: 'queued', group: 'life', trigger: 'transfer' } });
      await app.handoff.idle();
      expect((await queueOf(life)).map((i) => i.handoff.conversationId)).toEqual([c.id]);
      expect(await queueOf(bank)).toEqual([]);
      expect((await customerHistory(c)).messages.at(-1)?.text).toMatch(/^正在為您轉接其他專員，請稍候。目前沒有專員在線上/);
      expect((await as(bank, 'POST', `/conversations/${c.id}/messages`, { text: '還在嗎' })).statusCode).toBe(409);
      expect((await claim(life, c)).statusCode).toBe(200);
      const detail = (await as(life, 'GET', `/conversations/${c.id}`)).json();
      expect(detail.handoffs.map((h: { endReason: string | null }) => h.endReason)).toEqual(['transferred', null]);
      expect(detail.notes[0].text).toBe('保單問題，請壽險組協助');
      const bad = await as(life, 'POST', `/conversations/${c.id}/transfer`, { group: 'life', agentId: bank.id });
      expect(bad.statusCode).toBe(400);
    });

    it('returns the conversation to the bot, which answers the next message', async () => {
      const agent = await signIn(app, 'a1');
      const c = await queuedAndClaimed(agent);
      const res = await as(agent, 'POST', `/conversations/${c.id}/return`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ conversation: { state: 'bot' }, handoff: { status: 'ended', endReason: 'returned', endedBy: agent.id } });
      expect((await customerHistory(c)).messages.at(-1)?.text).toMatch(/交回智能客服小福/);
      const turn = await say(c, '那要怎麼補發');
      expect(turn.reply).toMatchObject({ author: 'bot', text: '回覆:那要怎麼補發' });
      expect((await as(agent, 'POST', `/conversations/${c.id}/return`)).statusCode).toBe(409);
    });

    it('closes with a disposition, which the customer sees as the end of the conversation', async () => {
      const agent = await signIn(app, 'a1');
      const c = await queuedAndClaimed(agent);
      expect((await as(agent, 'POST', `/conversations/${c.id}/close`, { disposition: 'happy' })).statusCode).toBe(400);
      const res = await as(agent, 'POST', `/conversations/${c.id}/close`, { disposition: 'resolved', note: '已協助掛失' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ conversation: { state: 'closed' }, handoff: { status: 'ended', endReason: 'closed', disposition: 'resolved' } });
      const history = await customerHistory(c);
      expect(history.conversation.state).toBe('closed');
      expect(history.messages.at(-1)?.text).toBe('專員已結束本次對話，感謝您的耐心與等候。');
      const send = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text: '謝謝' } });
      expect(send.statusCode).toBe(409);
      expect((await as(agent, 'POST', `/conversations/${c.id}/close`, { disposition: 'resolved' })).json().error.code).toBe('KEFU_CONVERSATION_CLOSED');
    });

    it('lets an agent close spam straight from the queue, and a customer who leaves end the episode', async () => {
      const agent = await signIn(app, 'a1');
      const spam = await startConversation(app);
      await say(spam, '我要找真人');
      const res = await as(agent, 'POST', `/conversations/${spam.id}/close`, { disposition: 'spam' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().handoff).toMatchObject({ disposition: 'spam', claimedAt: null });

      const leaver = await startConversation(app);
      await say(leaver, '我要找真人');
      await app.service.close(leaver.id);
      await app.handoff.idle();
      expect(await queueOf(agent)).toEqual([]);
      expect((await app.store.listHandoffs(leaver.id))[0]).toMatchObject({ status: 'ended', endReason: 'customer_ended', endedBy: null });
    });
  });

  describe('call backs', () => {
    it('turns a waiting chat into a callback ticket in the queue when nobody is on duty', async () => {
      const agent = await signIn(app, 'a1', { groups: ['bank'] });
      const waiting = await startConversation(app);
      const c = await startConversation(app);
      await say(c, '卡被盜刷了');
      expect((await customerHistory(c)).messages.at(-1)?.text).toContain('留下想詢問的內容與方便聯絡的時間');
      const res = await app.fastify.inject({
        method: 'POST', url: `/api/v1/conversations/${c.id}/callback`, headers: c.headers, payload: { text: '請回電，我的卡昨天被盜刷兩筆', contactTime: '平日晚上七點後' },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().notice).toMatchObject({ author: 'system', text: '已收到您的留言（方便聯絡時間：平日晚上七點後），專員會盡快與您聯繫。' });
      await say(waiting, '我要找真人');
      // The ticket keeps the fraud priority, so it stays ahead of an ordinary live chat (callbacks only yield to chats of equal priority).
      const queue = await queueOf(agent);
      expect(queue.map((i) => [i.handoff.conversationId, i.handoff.kind])).toEqual([[c.id, 'callback'], [waiting.id, 'chat']]);
      const ticket = (await app.store.getOpenHandoff(c.id))!;
      expect(ticket).toMatchObject({ kind: 'callback', priority: 1, callback: { text: '請回電，我的卡昨天被盜刷兩筆', contactTime: '平日晚上七點後' } });
      expect((await customerHistory(c)).messages.map((m) => m.author).slice(-2)).toEqual(['customer', 'system']);
    });

    it('queues a callback ticket from a conversation the bot holds, and refuses one while an agent serves it', async () => {
      const agent = await signIn(app, 'a1');
      const c = await startConversation(app);
      const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/callback`, headers: c.headers, payload: { text: '請回電' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().conversation.state).toBe('queued');
      expect((await queueOf(agent))[0]?.handoff).toMatchObject({ conversationId: c.id, kind: 'callback', trigger: 'callback', callback: { text: '請回電', contactTime: null } });
      const pos = await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/queue`, headers: c.headers });
      expect(pos.json().position).toMatchObject({ kind: 'callback', position: 0 });

      expect((await claim(agent, c)).statusCode).toBe(200);
      const refused = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/callback`, headers: c.headers, payload: { text: '再留一次' } });
      expect(refused.statusCode).toBe(409);
      const stranger = await startConversation(app);
      expect((await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/callback`, headers: stranger.headers, payload: { text: 'x' } })).statusCode).toBe(403);
      expect((await app.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/queue`, headers: stranger.headers })).statusCode).toBe(403);
      expect((await app.fastify.inject({ method: 'POST', url: `/api/v1/agent/conversations/${c.id}/close`, headers: agent.headers, payload: { disposition: 'callback' } })).statusCode).toBe(200);
    });
  });

  it('lists agents with who is on duty, and the groups, for the transfer picker', async () => {
    const a = await signIn(app, 'a1', { groups: ['bank'] });
    await signIn(app, 'b1', { groups: ['life'] });
    await signIn(app, 't1', { role: 'trainer', groups: [] });
    await onDuty(a);
    const res = await as(a, 'GET', '/directory');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      agents: [
        expect.objectContaining({ username: 'a1', status: 'available', groups: ['bank'] }),
        expect.objectContaining({ username: 'b1', status: 'offline', groups: ['life'] }),
      ],
      groups: ['bank', 'default', 'life'],
    });
  });
});
