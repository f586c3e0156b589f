import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { NewHandoff, Store } from '../../src/store/store.ts';
import type { StoredOutcome } from '../../src/domain/conversation.ts';

const outcome: StoredOutcome = {
  outcome: 'answer', topic: 'card.lost', brain: 'faq', confidence: 0.93, candidates: [{ topic: 'card.lost', confidence: 0.93 }], entities: [],
  needsVerification: false,
  trace: { normalised: '卡不见了', faq: { candidates: [] }, nlu: null, rule: 'faq-confident', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0.4 },
};

/**
 * The behaviour every Store implementation must have. `open` returns a fresh, empty store; `reopen` (when the
 * implementation persists) returns a new handle on the same data.
 */
export function storeContract(name: string, open: () => Promise<Store>, reopen?: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('creates a conversation in the bot state and reads it back', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'browser-1', locale: 'zh-TW' });
      expect(c).toMatchObject({ channel: 'web', customerId: 'browser-1', customerVerified: false, state: 'bot', locale: 'zh-TW', closedAt: null, consecutiveFallbacks: 0, rating: null });
      expect(await store.getConversation(c.id)).toEqual(c);
      // One the bank vouched for says so, on every read.
      const vouched = await store.createConversation({ channel: 'web', customerId: 'cust-1', locale: 'zh-TW', customerVerified: true });
      expect(vouched.customerVerified).toBe(true);
      expect(await store.getConversation(vouched.id)).toEqual(vouched);
      expect(await store.findOpenConversation('web', 'cust-1')).toMatchObject({ id: vouched.id, customerVerified: true });
      expect(await store.getConversation('no-such-id')).toBeNull();
    });

    it('appends messages in order with increasing seq and stores the outcome', async () => {
      const c = await store.createConversation({ channel: 'api', customerId: 'u', locale: 'zh-TW' });
      const { message: m1 } = await store.appendMessage({ conversationId: c.id, author: 'customer', text: '卡不見了', clientMessageId: 'c1' });
      const { message: m2 } = await store.appendMessage({ conversationId: c.id, author: 'bot', text: '請掛失', replyTo: m1.id, outcome, quickReplies: [{ topic: 'x.y', title: 'X' }] });
      expect([m1.seq, m2.seq]).toEqual([1, 2]);
      const list = await store.listMessages(c.id);
      expect(list.map((m) => m.text)).toEqual(['卡不見了', '請掛失']);
      expect(list[1]).toMatchObject({ author: 'bot', outcome, quickReplies: [{ topic: 'x.y', title: 'X' }], replyTo: m1.id, feedback: null });
      expect(await store.findReply(c.id, m1.id)).toEqual(list[1]);
      expect(await store.listMessages(c.id, { afterSeq: 1 })).toEqual([list[1]]);
      // What an append hands back is what is stored, and the conversation as the append left it.
      expect(list[1]).toEqual(m2);
    });

    it('refuses an append that requires an open conversation once it is closed, storing nothing', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'm1', requireOpen: true });
      await store.updateConversation(c.id, { state: 'closed' });
      await expect(store.appendMessage({ conversationId: c.id, author: 'customer', text: 'again', clientMessageId: 'm2', requireOpen: true })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
      // A retry of a message stored before the close is refused the same way, not answered.
      await expect(store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'm1', requireOpen: true })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
      expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['hi']);
      expect((await store.getConversation(c.id))?.updatedAt).toBe((await store.getConversation(c.id))?.closedAt);
      // Without the flag (a system notice, say) the append goes ahead.
      expect((await store.appendMessage({ conversationId: c.id, author: 'system', text: '已結束' })).duplicate).toBe(false);
    });

    it('stores a bot reply that requires the bot to hold the conversation only while it does', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const { message: asked } = await store.appendMessage({ conversationId: c.id, author: 'customer', text: '卡不見了' });
      expect((await store.appendMessage({ conversationId: c.id, author: 'bot', text: '請掛失', replyTo: asked.id, outcome, requireBot: true })).message.seq).toBe(2);
      await store.updateConversation(c.id, { state: 'agent' });
      await expect(store.appendMessage({ conversationId: c.id, author: 'bot', text: '晚到的回覆', replyTo: asked.id, outcome, requireBot: true }))
        .rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });
      expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['卡不見了', '請掛失']);
      // The refused append took no seq: the next message follows on.
      expect((await store.appendMessage({ conversationId: c.id, author: 'agent', text: '您好' })).message.seq).toBe(3);
    });

    it('hands back the conversation as each append leaves it', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const r = await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi' });
      expect(r.conversation).toEqual(await store.getConversation(c.id));
      expect(r.conversation.updatedAt).toBe(r.message.createdAt);
      expect(r.conversation).toMatchObject({ id: c.id, state: 'bot', consecutiveFallbacks: 0 });
    });

    it('does not store a customer message twice for the same client message id', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const a = await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'same' });
      const b = await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'same' });
      expect(a.duplicate).toBe(false);
      expect(b).toEqual({ message: a.message, duplicate: true, conversation: await store.getConversation(c.id) });
      expect(await store.listMessages(c.id)).toHaveLength(1);
      // The same client id in another conversation is another message.
      const other = await store.createConversation({ channel: 'web', customerId: 'v', locale: 'zh-TW' });
      expect((await store.appendMessage({ conversationId: other.id, author: 'customer', text: 'hi', clientMessageId: 'same' })).duplicate).toBe(false);
    });

    it("stores who wrote an agent message, and an agent's message once for the same client message id", async () => {
      const a = await store.createAgent({ username: 'ming', displayName: '王小明', role: 'agent', groups: [], passwordHash: 'h' });
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const first = await store.appendMessage({ conversationId: c.id, author: 'agent', text: '您好', clientMessageId: 'a-1', agent: { id: a.id, displayName: a.displayName } });
      expect(first.message).toMatchObject({ author: 'agent', agentId: a.id, agentName: '王小明', clientMessageId: 'a-1' });
      const again = await store.appendMessage({ conversationId: c.id, author: 'agent', text: '您好', clientMessageId: 'a-1', agent: { id: a.id, displayName: a.displayName } });
      expect(again).toEqual({ message: first.message, duplicate: true, conversation: await store.getConversation(c.id) });
      expect(await store.findMessageByClientId(c.id, 'a-1')).toEqual(first.message);
      expect(await store.findMessageByClientId(c.id, 'nope')).toBeNull();
      const { message: system } = await store.appendMessage({ conversationId: c.id, author: 'system', text: '通知' });
      expect(system).toMatchObject({ agentId: null, agentName: null, clientMessageId: null });
      expect(await store.listMessages(c.id)).toEqual([first.message, system]);
    });

    describe('a customer turn in one write', () => {
      const reply = { text: '請掛失', quickReplies: [{ topic: 'x.y', title: 'X' }], outcome };
      const turn = (conversationId: string, clientMessageId: string | null, routedOn = { consecutiveFallbacks: 0, locale: 'zh-TW' as const }, consecutiveFallbacks = 0) =>
        store.appendTurn({ conversationId, customer: { text: '卡不見了', clientMessageId }, reply, routedOn, consecutiveFallbacks });

      it('stores the customer message and the reply to it together, with the new fallback count', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
        const r = await turn(c.id, 'c1', { consecutiveFallbacks: 0, locale: 'zh-TW' }, 1);
        expect(r.duplicate).toBe(false);
        expect([r.customer.seq, r.reply?.seq]).toEqual([1, 2]);
        expect(r.reply).toMatchObject({ author: 'bot', text: '請掛失', replyTo: r.customer.id, outcome, quickReplies: reply.quickReplies });
        expect(r.conversation).toMatchObject({ id: c.id, state: 'bot', consecutiveFallbacks: 1 });
        expect(r.conversation).toEqual(await store.getConversation(c.id));
        const list = await store.listMessages(c.id);
        expect(list).toEqual([r.customer, r.reply]);
        expect(list[0]).toMatchObject({ author: 'customer', clientMessageId: 'c1' });
        // The customer's message keeps the time it reached the server, when given.
        const at = '2026-01-02T03:04:05.678Z';
        const timed = await store.appendTurn({ conversationId: c.id, customer: { text: '又一句', clientMessageId: 'c9', receivedAt: at }, reply, routedOn: { consecutiveFallbacks: 1, locale: 'zh-TW' }, consecutiveFallbacks: 0 });
        expect(timed.customer.createdAt).toBe(at);
        expect((await store.getMessage(timed.customer.id))?.createdAt).toBe(at);
        expect(timed.reply!.createdAt >= at).toBe(true);
        expect(await store.findReply(c.id, r.customer.id)).toEqual(r.reply);
        // The turns' seq numbers are taken: the next message follows them.
        expect((await store.appendMessage({ conversationId: c.id, author: 'system', text: 'x' })).message.seq).toBe(5);
      });

      it('stores the customer message alone when the conversation is no longer in the state the reply was worked out on', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
        await store.updateConversation(c.id, { consecutiveFallbacks: 1 });
        const stale = await turn(c.id, 'c1', { consecutiveFallbacks: 0, locale: 'zh-TW' }, 0);
        expect(stale.reply).toBeNull();
        expect(stale.conversation.consecutiveFallbacks).toBe(1); // untouched
        await store.updateConversation(c.id, { locale: 'en' });
        expect((await turn(c.id, 'c2', { consecutiveFallbacks: 1, locale: 'zh-TW' })).reply).toBeNull();
        await store.updateConversation(c.id, { state: 'agent', locale: 'zh-TW' });
        const withAgent = await turn(c.id, 'c3', { consecutiveFallbacks: 1, locale: 'zh-TW' });
        expect(withAgent.reply).toBeNull();
        expect(withAgent.conversation.state).toBe('agent');
        expect((await store.listMessages(c.id)).map((m) => [m.author, m.seq])).toEqual([['customer', 1], ['customer', 2], ['customer', 3]]);
      });

      it('stores nothing for a retried client message id, and refuses a closed or unknown conversation', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
        const first = await turn(c.id, 'c1');
        const again = await turn(c.id, 'c1');
        expect(again).toMatchObject({ duplicate: true, reply: null, customer: first.customer });
        expect(await store.listMessages(c.id)).toHaveLength(2);
        await store.updateConversation(c.id, { state: 'closed' });
        await expect(turn(c.id, 'c2')).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
        await expect(turn(c.id, 'c1')).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
        expect(await store.listMessages(c.id)).toHaveLength(2);
        await expect(turn('no-such-id', 'c1')).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
      });
    });

    it("keeps the group of the conversation's latest answer that has one, moved in the answer's own write", async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      expect(c.topicGroup).toBe('default');
      const asked = await store.appendMessage({ conversationId: c.id, author: 'customer', text: '卡不見了' });
      expect(asked.conversation.topicGroup).toBe('default');
      const answered = await store.appendMessage({ conversationId: c.id, author: 'bot', text: '請掛失', outcome, replyTo: asked.message.id, topicGroup: 'bank' });
      expect(answered.conversation.topicGroup).toBe('bank');
      // The group it left comes back with the write that moved it (the live lists of that group are told).
      expect(answered.movedFrom).toBe('default');
      // An answer whose topic has no group (a fallback, a shared topic) leaves the conversation where it was.
      const unmoved = await store.appendMessage({ conversationId: c.id, author: 'bot', text: '請再說一次', topicGroup: null });
      expect([unmoved.conversation.topicGroup, unmoved.movedFrom]).toEqual(['bank', undefined]);
      expect((await store.appendMessage({ conversationId: c.id, author: 'bot', text: '請掛失', outcome, topicGroup: 'bank' })).movedFrom).toBeUndefined();
      // So does a turn's reply; one whose topic has a group moves it, in the turn's one write.
      const reply = { text: '查保單', quickReplies: [], outcome };
      const routedOn = { consecutiveFallbacks: 0, locale: 'zh-TW' as const };
      const plain = await store.appendTurn({ conversationId: c.id, customer: { text: '嗯' }, reply: { ...reply, topicGroup: null }, routedOn, consecutiveFallbacks: 0 });
      expect([plain.conversation.topicGroup, plain.movedFrom]).toEqual(['bank', undefined]);
      const moved = await store.appendTurn({ conversationId: c.id, customer: { text: '保單' }, reply: { ...reply, topicGroup: 'life' }, routedOn, consecutiveFallbacks: 0 });
      expect([moved.conversation.topicGroup, moved.movedFrom]).toEqual(['life', 'bank']);
      const stayed = await store.appendTurn({ conversationId: c.id, customer: { text: '保單呢' }, reply: { ...reply, topicGroup: 'life' }, routedOn, consecutiveFallbacks: 0 });
      expect([stayed.conversation.topicGroup, stayed.movedFrom]).toEqual(['life', undefined]);
      // Every read has it.
      expect((await store.getConversation(c.id))?.topicGroup).toBe('life');
      expect((await store.getConversations([c.id]))[0]?.topicGroup).toBe('life');
      expect((await store.listConversationsByState('bot')).find((x) => x.id === c.id)?.topicGroup).toBe('life');
      // A reply refused (an agent took the conversation meanwhile) moves nothing.
      await store.updateConversation(c.id, { state: 'agent' });
      await expect(store.appendMessage({ conversationId: c.id, author: 'bot', text: '晚到', outcome, requireBot: true, topicGroup: 'bank' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });
      expect((await store.getConversation(c.id))?.topicGroup).toBe('life');
      // Set as worked out from its messages only where none is kept: an answer stored meanwhile is not overwritten.
      expect((await store.updateConversation(c.id, { topicGroup: 'bank' })).topicGroup).toBe('life');
    });

    it('keeps seq unique under concurrent appends', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendMessage({ conversationId: c.id, author: 'customer', text: `m${i}` })));
      const seqs = (await store.listMessages(c.id)).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('refuses a message for an unknown conversation', async () => {
      await expect(store.appendMessage({ conversationId: 'nope', author: 'customer', text: 'x' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
    });

    it('updates state, closes with a time, and finds the open conversation of a customer', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'cust', locale: 'zh-TW' });
      expect((await store.findOpenConversation('web', 'cust'))?.id).toBe(c.id);
      const q = await store.updateConversation(c.id, { state: 'queued', consecutiveFallbacks: 2 });
      expect(q).toMatchObject({ state: 'queued', consecutiveFallbacks: 2, closedAt: null });
      const closed = await store.updateConversation(c.id, { state: 'closed' });
      expect(closed.closedAt).not.toBeNull();
      expect(await store.findOpenConversation('web', 'cust')).toBeNull();
      expect(await store.countOpenConversations()).toEqual({ bot: 0, queued: 0, agent: 0 });
      await expect(store.updateConversation('nope', { state: 'bot' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
    });

    it('rates a conversation and a bot message', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const { message } = await store.appendMessage({ conversationId: c.id, author: 'bot', text: 'answer', outcome });
      expect((await store.rateConversation(c.id, 4, '很快')).rating).toMatchObject({ stars: 4, comment: '很快' });
      expect((await store.setFeedback(message.id, 'down')).feedback).toBe('down');
      await expect(store.setFeedback('nope', 'up')).rejects.toMatchObject({ code: 'KEFU_MESSAGE_NOT_FOUND' });
      await expect(store.rateConversation('nope', 3, null)).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
    });

    describe('handoff queue', () => {
      const agentInput = (username: string) => ({ username, displayName: username, role: 'agent' as const, groups: ['bank'], passwordHash: 'scrypt$x' });
      const queued = async (customerId: string, extra: Partial<NewHandoff> = {}) => {
        const c = await store.createConversation({ channel: 'web', customerId, locale: 'zh-TW' });
        return store.enqueueHandoff({ conversationId: c.id, kind: 'chat', trigger: 'router', topic: null, group: 'bank', priority: 0, ...extra });
      };

      it('queues a bot-held conversation with its episode in one change, and only once', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'q1', locale: 'zh-TW' });
        await store.updateConversation(c.id, { consecutiveFallbacks: 2 });
        const { conversation, handoff } = await store.enqueueHandoff({ conversationId: c.id, kind: 'chat', trigger: 'router', topic: 'fraud.report', group: 'bank', priority: 1 });
        expect(conversation).toMatchObject({ state: 'queued', consecutiveFallbacks: 0 });
        expect(handoff).toMatchObject({
          conversationId: c.id, kind: 'chat', trigger: 'router', topic: 'fraud.report', group: 'bank', priority: 1, status: 'queued',
          agentId: null, claimedAt: null, firstReplyAt: null, endedAt: null, endReason: null, disposition: null, callback: null, targetAgentId: null,
        });
        expect(await store.getOpenHandoff(c.id)).toEqual(handoff);
        await expect(store.enqueueHandoff({ conversationId: c.id, kind: 'chat', trigger: 'button', topic: null, group: 'bank', priority: 0 })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });
        await expect(store.enqueueHandoff({ conversationId: 'nope', kind: 'chat', trigger: 'button', topic: null, group: 'bank', priority: 0 })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
        expect(await store.listHandoffs(c.id)).toHaveLength(1);
      });

      it('orders the queue by priority, live chats before callbacks, then waiting time, and filters by group', async () => {
        const a = await queued('a');
        const b = await queued('b', { group: 'life' });
        const cb = await queued('cb', { kind: 'callback', trigger: 'callback', callback: { text: '請回電', contactTime: '晚上' } });
        const urgent = await queued('urgent', { priority: 1, topic: 'fraud.report' });
        const c = await queued('c');
        const ids = (hs: { conversationId: string }[]) => hs.map((h) => h.conversationId);
        expect(ids(await store.listQueue())).toEqual([urgent, a, b, c, cb].map((x) => x.conversation.id));
        expect(ids(await store.listQueue({ groups: ['bank'] }))).toEqual([urgent, a, c, cb].map((x) => x.conversation.id));
        expect(ids(await store.listQueue({ groups: ['life', 'default'] }))).toEqual([b.conversation.id]);
        expect(ids(await store.listQueue({ groups: [] }))).toEqual([]);
        expect(cb.handoff.callback).toEqual({ text: '請回電', contactTime: '晚上' });
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const agents = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createAgent(agentInput(`racer${i}`))));
        const { handoff } = await queued('race');
        const results = await Promise.allSettled(agents.map((a) => store.claimHandoff(handoff.id, a.id)));
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'KEFU_ALREADY_CLAIMED' });
        const winner = (won[0] as PromiseFulfilledResult<{ handoff: { agentId: string | null } }>).value.handoff.agentId;
        expect((await store.getConversation(handoff.conversationId))?.state).toBe('agent');
        expect(await store.getOpenHandoff(handoff.conversationId)).toMatchObject({ status: 'claimed', agentId: winner });
        expect(await store.listQueue()).toEqual([]);
        expect((await store.listClaimed(winner!)).map((h) => h.id)).toEqual([handoff.id]);
      });

      it('pulls a bot-held conversation straight to an agent, once', async () => {
        const [a, b] = [await store.createAgent(agentInput('puller1')), await store.createAgent(agentInput('puller2'))];
        const c = await store.createConversation({ channel: 'web', customerId: 'live', locale: 'zh-TW' });
        const input = { conversationId: c.id, kind: 'chat' as const, trigger: 'pull' as const, topic: null, group: 'default', priority: 0 };
        const results = await Promise.allSettled([store.pullConversation({ ...input, agentId: a.id }), store.pullConversation({ ...input, agentId: b.id })]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const h = (await store.getOpenHandoff(c.id))!;
        expect(h).toMatchObject({ status: 'claimed', trigger: 'pull' });
        expect(h.claimedAt).toBe(h.queuedAt);
        expect((await store.getConversation(c.id))?.state).toBe('agent');
      });

      it('transfers, returns to the bot and closes with the conversation moving in the same change', async () => {
        const [a, b] = [await store.createAgent(agentInput('first')), await store.createAgent(agentInput('second'))];
        const { handoff } = await queued('t', { priority: 1, topic: 'complaint.file' });
        expect((await store.getConversation(handoff.conversationId))).toMatchObject({ state: 'queued', agentId: null, agentName: null });
        // Who holds the conversation comes with it, from the claimed episode.
        expect((await store.claimHandoff(handoff.id, a.id)).conversation).toMatchObject({ state: 'agent', agentId: a.id, agentName: 'first' });
        expect((await store.getConversation(handoff.conversationId))).toMatchObject({ agentId: a.id, agentName: 'first' });
        await expect(store.transferHandoff(handoff.id, { fromAgentId: b.id, group: 'life', targetAgentId: null })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });
        const moved = await store.transferHandoff(handoff.id, { fromAgentId: a.id, group: 'life', targetAgentId: b.id });
        expect(moved.conversation).toMatchObject({ state: 'queued', agentId: null, agentName: null });
        expect(moved.handoff).toMatchObject({ status: 'queued', trigger: 'transfer', group: 'life', targetAgentId: b.id, priority: 1, topic: 'complaint.file', previousId: handoff.id });
        expect(await store.getHandoff(handoff.id)).toMatchObject({ status: 'ended', endReason: 'transferred', endedBy: a.id });
        // A transfer to one agent is seen by that agent only.
        expect(await store.listQueue({ groups: ['life'] })).toEqual([]);
        expect((await store.listQueue({ groups: [], agentId: b.id })).map((h) => h.id)).toEqual([moved.handoff.id]);

        await store.claimHandoff(moved.handoff.id, b.id);
        await store.markFirstReply(moved.handoff.id);
        const first = (await store.markFirstReply(moved.handoff.id)).firstReplyAt;
        expect(first).not.toBeNull();
        expect((await store.listConversationsByState('agent')).map((c) => [c.id, c.agentName])).toEqual([[handoff.conversationId, 'second']]);
        const back = await store.endHandoff(moved.handoff.id, { reason: 'returned', endedBy: b.id, conversationState: 'bot' });
        expect(back.conversation).toMatchObject({ state: 'bot', agentId: null });
        expect(back.handoff).toMatchObject({ status: 'ended', endReason: 'returned', firstReplyAt: first });
        await expect(store.endHandoff(moved.handoff.id, { reason: 'closed', endedBy: b.id, conversationState: 'closed' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });

        const again = await store.enqueueHandoff({ conversationId: back.conversation.id, kind: 'chat', trigger: 'button', topic: null, group: 'bank', priority: 0 });
        await store.claimHandoff(again.handoff.id, a.id);
        const closed = await store.endHandoff(again.handoff.id, { reason: 'closed', disposition: 'resolved', endedBy: a.id, conversationState: 'closed' });
        expect(closed.conversation.state).toBe('closed');
        expect(closed.conversation.closedAt).not.toBeNull();
        expect(closed.handoff).toMatchObject({ disposition: 'resolved', endReason: 'closed' });
        expect((await store.listHandoffs(back.conversation.id)).map((h) => h.endReason)).toEqual(['transferred', 'returned', 'closed']);
        expect(await store.getOpenHandoff(back.conversation.id)).toBeNull();
      });

      it("releases an episode whose agent left: back to the front of its priority, keeping the customer's waiting time", async () => {
        const [a, b] = [await store.createAgent(agentInput('leaver')), await store.createAgent(agentInput('stayer'))];
        const earlier = await queued('earlier');
        const taken = await queued('taken');
        const urgent = await queued('urgent', { priority: 1 });
        const callback = await queued('cb', { kind: 'callback', trigger: 'callback', callback: { text: '請回電', contactTime: null } });
        await store.claimHandoff(taken.handoff.id, a.id);
        await expect(store.releaseHandoff(taken.handoff.id, { agentId: b.id })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });

        const r = await store.releaseHandoff(taken.handoff.id, { agentId: a.id });
        expect(r.conversation).toMatchObject({ state: 'queued', agentId: null });
        expect(r.handoff).toMatchObject({
          status: 'queued', trigger: 'release', group: 'bank', priority: 0, kind: 'chat', targetAgentId: null, agentId: null, claimedAt: null,
          previousId: taken.handoff.id, queuedAt: taken.handoff.queuedAt,
        });
        expect(await store.getHandoff(taken.handoff.id)).toMatchObject({ status: 'ended', endReason: 'released', endedBy: null, agentId: a.id });
        // Ahead of everyone of its priority who still waits, even those who came first; behind a higher priority.
        expect((await store.listQueue()).map((h) => h.conversationId)).toEqual([urgent, taken, earlier, callback].map((x) => x.conversation.id));
        await expect(store.releaseHandoff(taken.handoff.id, { agentId: a.id })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_STATE' });
        expect((await store.claimHandoff(r.handoff.id, b.id)).conversation).toMatchObject({ state: 'agent', agentName: 'stayer' });
      });

      it('refuses to claim a handoff whose customer has left', async () => {
        const a = await store.createAgent(agentInput('late'));
        const { handoff } = await queued('gone');
        await store.updateConversation(handoff.conversationId, { state: 'closed' });
        await expect(store.claimHandoff(handoff.id, a.id)).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
        expect(await store.getHandoff(handoff.id)).toMatchObject({ status: 'queued' });
        const ended = await store.endHandoff(handoff.id, { reason: 'customer_ended', endedBy: null, conversationState: null });
        expect(ended.handoff).toMatchObject({ status: 'ended', endReason: 'customer_ended', claimedAt: null });
      });

      it('turns a waiting chat into a callback ticket', async () => {
        const { handoff } = await queued('cbk');
        const h = await store.setHandoffCallback(handoff.id, { text: '請明天打給我', contactTime: null });
        expect(h).toMatchObject({ id: handoff.id, kind: 'callback', callback: { text: '請明天打給我', contactTime: null }, queuedAt: handoff.queuedAt });
      });

      it('averages recent waits and handling times of a group', async () => {
        const a = await store.createAgent(agentInput('stats'));
        expect(await store.handoffStats('bank', { since: '2000-01-01', limit: 20 })).toEqual({ samples: 0, avgWaitSeconds: null, avgHandlingSeconds: null });
        const { handoff } = await queued('s1');
        await store.claimHandoff(handoff.id, a.id);
        await store.endHandoff(handoff.id, { reason: 'closed', disposition: 'resolved', endedBy: a.id, conversationState: 'closed' });
        const s = await store.handoffStats('bank', { since: '2000-01-01', limit: 20 });
        expect(s.samples).toBe(1);
        expect(s.avgWaitSeconds).toBeGreaterThanOrEqual(0);
        expect(s.avgHandlingSeconds).toBeGreaterThanOrEqual(0);
        expect((await store.handoffStats('life', { since: '2000-01-01', limit: 20 })).samples).toBe(0);
      });

      it('lists conversations by state and the latest messages', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'l', locale: 'zh-TW' });
        for (const t of ['一', '二', '三']) await store.appendMessage({ conversationId: c.id, author: 'customer', text: t });
        expect((await store.latestMessages(c.id, 2)).map((m) => m.text)).toEqual(['二', '三']);
        const other = await store.createConversation({ channel: 'web', customerId: 'l2', locale: 'zh-TW' });
        await store.appendMessage({ conversationId: other.id, author: 'customer', text: '四' });
        const quiet = await store.createConversation({ channel: 'web', customerId: 'l3', locale: 'zh-TW' });
        const many = await store.latestMessagesOf([c.id, other.id, quiet.id, 'nope', c.id], 2);
        expect(Object.fromEntries(Object.entries(many).map(([id, ms]) => [id, ms.map((m) => m.text)]))).toEqual({ [c.id]: ['二', '三'], [other.id]: ['四'] });
        expect(many[c.id]).toEqual(await store.latestMessages(c.id, 2));
        expect(await store.latestMessagesOf([], 10)).toEqual({});
        const got = await store.getConversations([other.id, 'nope', c.id, other.id]);
        expect(got.map((x) => x.id).sort()).toEqual([c.id, other.id].sort());
        expect(got.find((x) => x.id === c.id)).toEqual(await store.getConversation(c.id));
        expect(await store.getConversations([])).toEqual([]);
        expect((await store.listConversationsByState('bot')).map((x) => x.id)).toContain(c.id);
        expect(await store.listConversationsByState('bot', { updatedAfter: '2999-01-01' })).toEqual([]);
      });

      it("lists a group's conversations by state without the others' crowding them out of the limit", async () => {
        const inGroup = async (customerId: string, group: string) => {
          const c = await store.createConversation({ channel: 'web', customerId, locale: 'zh-TW' });
          return (await store.appendMessage({ conversationId: c.id, author: 'bot', text: '您好', outcome, topicGroup: group })).conversation;
        };
        const life = await inGroup('g-life', 'life');
        const bank = await Promise.all([inGroup('g-bank-1', 'bank'), inGroup('g-bank-2', 'bank')]);
        const plain = await store.createConversation({ channel: 'web', customerId: 'g-default', locale: 'zh-TW' });
        expect((await store.listConversationsByState('bot', { limit: 1, groups: ['life'] })).map((c) => c.id)).toEqual([life.id]);
        const lifeOrDefault = (await store.listConversationsByState('bot', { groups: ['life', 'default'] })).map((c) => c.id);
        expect(lifeOrDefault).toEqual(expect.arrayContaining([life.id, plain.id]));
        expect(lifeOrDefault).not.toEqual(expect.arrayContaining([bank[0]!.id]));
        expect(lifeOrDefault).not.toEqual(expect.arrayContaining([bank[1]!.id]));
        expect(await store.listConversationsByState('bot', { groups: [] })).toEqual(expect.not.arrayContaining([expect.objectContaining({ id: life.id })]));
        expect((await store.listConversationsByState('bot', { groups: ['bank'] })).map((c) => c.id)).toEqual(expect.arrayContaining(bank.map((c) => c.id)));
      });

      it('lists conversations left with the bot before a time, oldest first, and no others', async () => {
        const first = await store.createConversation({ channel: 'web', customerId: 'idle-1', locale: 'zh-TW' });
        const second = await store.createConversation({ channel: 'web', customerId: 'idle-2', locale: 'en' });
        const queued = await store.createConversation({ channel: 'web', customerId: 'idle-3', locale: 'zh-TW' });
        await store.updateConversation(queued.id, { state: 'queued' });
        const closed = await store.createConversation({ channel: 'web', customerId: 'idle-4', locale: 'zh-TW' });
        await store.updateConversation(closed.id, { state: 'closed' });
        // The first one speaks last: it is now the most recently active.
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.appendMessage({ conversationId: first.id, author: 'customer', text: '還在嗎' });
        const later = new Date(Date.now() + 60_000).toISOString();
        const idle = (await store.listIdleConversations(later, 10)).map((c) => c.id).filter((id) => [first.id, second.id, queued.id, closed.id].includes(id));
        expect(idle).toEqual([second.id, first.id]);
        expect(await store.listIdleConversations(later, 1)).toHaveLength(1);
        expect(await store.listIdleConversations('2000-01-01T00:00:00.000Z', 10)).toEqual([]);
      });

      it('closes a conversation only while it is with the bot and still quiet, once', async () => {
        const quiet = await store.createConversation({ channel: 'web', customerId: 'idle-5', locale: 'zh-TW' });
        const spoke = await store.createConversation({ channel: 'web', customerId: 'idle-6', locale: 'zh-TW' });
        const waiting = await store.createConversation({ channel: 'web', customerId: 'idle-7', locale: 'zh-TW' });
        await store.updateConversation(waiting.id, { state: 'queued' });
        await new Promise((resolve) => setTimeout(resolve, 5));
        const idleSince = new Date().toISOString();
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.appendMessage({ conversationId: spoke.id, author: 'customer', text: '在嗎' });
        const results = await Promise.all([store.closeIdleConversation(quiet.id, idleSince), store.closeIdleConversation(quiet.id, idleSince)]);
        const closed = results.filter((r) => r !== null);
        expect(closed).toHaveLength(1);
        expect(closed[0]).toEqual(await store.getConversation(quiet.id));
        expect(closed[0]).toMatchObject({ state: 'closed', closedAt: closed[0]!.updatedAt });
        expect(await store.closeIdleConversation(spoke.id, idleSince)).toBeNull();
        expect(await store.closeIdleConversation(waiting.id, idleSince)).toBeNull();
        expect(await store.closeIdleConversation('nope', idleSince)).toBeNull();
        expect((await store.getConversation(spoke.id))?.state).toBe('bot');
        expect((await store.getConversation(waiting.id))?.state).toBe('queued');
      });

      it('keeps notes apart from messages, and customer profiles by channel and id', async () => {
        const a = await store.createAgent(agentInput('noter'));
        const c = await store.createConversation({ channel: 'web', customerId: 'n', locale: 'zh-TW' });
        const note = await store.addNote({ conversationId: c.id, agentId: a.id, text: '客戶情緒激動' });
        expect(note).toMatchObject({ conversationId: c.id, agentId: a.id, text: '客戶情緒激動' });
        expect(await store.listNotes(c.id)).toEqual([note]);
        expect(await store.listMessages(c.id)).toEqual([]);
        await expect(store.addNote({ conversationId: 'nope', agentId: a.id, text: 'x' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });

        expect(await store.getCustomerProfile('web', 'n')).toBeNull();
        const p = await store.upsertCustomerProfile({ channel: 'web', customerId: 'n', verified: true, verifiedAt: '2025-01-01T00:00:00.000Z', displayName: '王○明', data: { segment: '財富管理' } });
        expect(p).toMatchObject({ verified: true, displayName: '王○明', data: { segment: '財富管理' } });
        expect(await store.getCustomerProfile('web', 'n')).toEqual(p);
        expect(await store.getCustomerProfile('api', 'n')).toBeNull();
        expect((await store.upsertCustomerProfile({ ...p, verified: false })).verified).toBe(false);
      });
    });

    describe('agents and sessions', () => {
      it('creates agents with unique usernames and updates them', async () => {
        const a = await store.createAgent({ username: 'xiaomei', displayName: '小美', role: 'agent', groups: ['bank', 'life'], passwordHash: 'scrypt$1' });
        expect(a).toMatchObject({ username: 'xiaomei', displayName: '小美', role: 'agent', groups: ['bank', 'life'], disabled: false, lastLoginAt: null });
        expect(a).not.toHaveProperty('passwordHash');
        expect(await store.getAgent(a.id)).toEqual(a);
        expect(await store.findAgentByUsername('xiaomei')).toEqual(a);
        expect(await store.findAgentByUsername('nobody')).toBeNull();
        expect(await store.getPasswordHash(a.id)).toBe('scrypt$1');
        await expect(store.createAgent({ username: 'xiaomei', displayName: 'x', role: 'admin', groups: [], passwordHash: 'h' })).rejects.toMatchObject({ code: 'KEFU_AGENT_EXISTS' });
        const u = await store.updateAgent(a.id, { groups: ['life'], disabled: true, passwordHash: 'scrypt$2', role: 'admin' });
        expect(u).toMatchObject({ groups: ['life'], disabled: true, role: 'admin' });
        expect(await store.getPasswordHash(a.id)).toBe('scrypt$2');
        await expect(store.updateAgent('nope', { disabled: true })).rejects.toMatchObject({ code: 'KEFU_AGENT_NOT_FOUND' });
        await store.createAgent({ username: 'amy', displayName: 'Amy', role: 'trainer', groups: [], passwordHash: 'h' });
        expect((await store.listAgents()).map((x) => x.username)).toEqual(['amy', 'xiaomei']);
      });

      it('stores sessions by token hash and ends them one by one, per agent, or when expired', async () => {
        const a = await store.createAgent({ username: 's', displayName: 'S', role: 'agent', groups: [], passwordHash: 'h' });
        const s1 = await store.createSession({ tokenHash: 'h1', agentId: a.id, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-01T12:00:00.000Z' });
        await store.createSession({ tokenHash: 'h2', agentId: a.id, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z' });
        await store.createSession({ tokenHash: 'h3', agentId: a.id, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z' });
        expect(await store.getSession('h1')).toEqual(s1);
        expect(await store.deleteExpiredSessions('2025-06-01T00:00:00.000Z')).toBe(1);
        expect(await store.getSession('h1')).toBeNull();
        expect(await store.deleteSession('h2')).toBe(true);
        expect(await store.deleteSession('h2')).toBe(false);
        expect(await store.deleteAgentSessions(a.id)).toEqual(['h3']);
        expect(await store.getSession('h3')).toBeNull();
      });
    });

    if (reopen) {
      it('keeps the queue, agents and sessions across a restart', async () => {
        const a = await store.createAgent({ username: 'r', displayName: 'R', role: 'agent', groups: ['bank'], passwordHash: 'h' });
        await store.createSession({ tokenHash: 'rh', agentId: a.id, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z' });
        const c = await store.createConversation({ channel: 'web', customerId: 'restart', locale: 'zh-TW' });
        const { handoff } = await store.enqueueHandoff({ conversationId: c.id, kind: 'chat', trigger: 'router', topic: 'fraud.report', group: 'bank', priority: 1 });
        await store.close();
        store = await reopen();
        expect((await store.getConversation(c.id))?.state).toBe('queued');
        expect(await store.listQueue({ groups: ['bank'] })).toEqual([handoff]);
        expect(await store.getAgent(a.id)).toEqual(a);
        expect((await store.getSession('rh'))?.agentId).toBe(a.id);
        expect((await store.claimHandoff(handoff.id, a.id)).conversation.state).toBe('agent');
      });

      it('keeps everything across a restart', async () => {
        const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
        await store.appendMessage({ conversationId: c.id, author: 'customer', text: '還在嗎', clientMessageId: 'k' });
        await store.close();
        store = await reopen();
        expect((await store.getConversation(c.id))?.id).toBe(c.id);
        expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['還在嗎']);
        expect((await store.appendMessage({ conversationId: c.id, author: 'customer', text: '還在嗎', clientMessageId: 'k' })).duplicate).toBe(true);
      });
    }
  });
}
