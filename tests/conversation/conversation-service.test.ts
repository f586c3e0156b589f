import { describe, it, expect, beforeEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createConversationService, type ConversationEvent } from '../../src/conversation/conversation-service.ts';
import type { RouteState, Router } from '../../src/router/router.ts';
import type { Outcome, OutcomeKind } from '../../src/domain/types.ts';
import type { Store } from '../../src/store/store.ts';
import { normalise } from '../../src/text/normalise.ts';

// A scripted router: the text names the outcome it should get, so each test reads as a conversation.
function scriptedRouter(calls: string[]): Router {
  const route = (text: string): Outcome => {
    calls.push(text);
    const kind: OutcomeKind = text.includes('真人') || text.includes('盜刷') ? 'handoff' : text.includes('???') ? 'fallback' : 'answer';
    return {
      text, outcome: kind, topic: kind === 'fallback' ? null : 'card.lost', brain: kind === 'fallback' ? null : 'faq', confidence: 0.9, candidates: [],
      entities: [], reply: `回覆:${text}`, options: [], needsVerification: false,
      // What the real router would put here (normalise's own output), personal data and all.
      trace: { normalised: normalise(text), faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
    };
  };
  return { thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, route, decide: (t) => route(t) };
}

describe('conversation service', () => {
  let store: Store;
  let calls: string[];
  let events: ConversationEvent[];
  let service: ReturnType<typeof createConversationService>;
  beforeEach(() => {
    store = openSqliteStore(':memory:');
    calls = [];
    events = [];
    service = createConversationService({ store, router: () => scriptedRouter(calls), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
    service.subscribe((e) => events.push(e));
  });

  it('stores the customer message, answers it, and keeps the trace with PII masked', async () => {
    const { conversation } = await service.start({ channel: 'api', customerId: 'c1' });
    // The e-mail address is the case that masking the normalised text missed: normalising turns it into words.
    const text = '卡不見了 A123456789 寄到 wang.ming@example.com';
    const r = await service.handleCustomerMessage(conversation.id, { text, clientMessageId: 'm1' });
    expect(r.reply?.text).toBe(`回覆:${text}`);
    const stored = (await service.history(conversation.id)).messages.find((m) => m.author === 'bot')!.outcome!.trace.normalised;
    expect(stored).not.toMatch(/a123456789|wang|example/i);
    expect(stored).toBe(normalise('卡不見了 [ID] 寄到 [EMAIL]'));
    const { messages } = await service.history(conversation.id);
    expect(messages.map((m) => [m.author, m.text])).toEqual([['customer', text], ['bot', `回覆:${text}`]]);
    expect(events.filter((e) => e.type === 'message')).toHaveLength(2);
    // Numbers grouped the ways a Chinese keyboard writes them: full-width digits and ideographic spaces, commas.
    for (const [said, kept] of [['卡號４３１１　２３４５　６７８９　０１２３', 'card'], ['手機0912，345，678', 'phone'], ['帳號：012-3456789012-3', 'number']] as const) {
      const turn = await service.handleCustomerMessage(conversation.id, { text: said });
      const trace = (await service.history(conversation.id)).messages.find((m) => m.id === turn.reply!.id)!.outcome!.trace.normalised;
      expect(trace, said).not.toMatch(/\d{3}/);
      expect(trace, said).toContain(kept);
    }
  });

  it('answers a retried message once and returns the same reply', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const a = await service.handleCustomerMessage(conversation.id, { text: '繳費', clientMessageId: 'same' });
    const b = await service.handleCustomerMessage(conversation.id, { text: '繳費', clientMessageId: 'same' });
    expect(b.duplicate).toBe(true);
    expect(b.reply?.id).toBe(a.reply?.id);
    expect(calls).toEqual(['繳費']);
    expect((await service.history(conversation.id)).messages).toHaveLength(2);
  });

  it('answers a retried message that was stored but never answered', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    await store.appendMessage({ conversationId: conversation.id, author: 'customer', text: '還在嗎', clientMessageId: 'lost' });
    const r = await service.handleCustomerMessage(conversation.id, { text: '還在嗎', clientMessageId: 'lost' });
    expect(r.reply?.text).toBe('回覆:還在嗎');
    expect((await service.history(conversation.id)).messages).toHaveLength(2);
  });

  it('keeps the order of concurrent messages in one conversation', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    await Promise.all(['一', '二', '三', '四'].map((t, i) => service.handleCustomerMessage(conversation.id, { text: t, clientMessageId: `k${i}` })));
    const texts = (await service.history(conversation.id)).messages.map((m) => m.text);
    expect(texts).toEqual(['一', '回覆:一', '二', '回覆:二', '三', '回覆:三', '四', '回覆:四']);
  });

  it('queues the conversation on a handoff and stays silent while a human holds it', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    expect(service.seenWithBot(conversation.id)).toBe(true);
    const r = await service.handleCustomerMessage(conversation.id, { text: '我要找真人' });
    expect(r.conversation.state).toBe('queued');
    expect(service.seenWithBot(conversation.id)).toBe(false);
    const silent = await service.handleCustomerMessage(conversation.id, { text: '有人嗎' });
    expect(silent.reply).toBeNull();
    expect(calls).toEqual(['我要找真人']);
  });

  it('counts fallbacks in a row and resets them on an answer', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    expect((await service.handleCustomerMessage(conversation.id, { text: '???' })).conversation.consecutiveFallbacks).toBe(1);
    expect((await service.handleCustomerMessage(conversation.id, { text: '??? 2' })).conversation.consecutiveFallbacks).toBe(2);
    expect((await service.handleCustomerMessage(conversation.id, { text: '卡' })).conversation.consecutiveFallbacks).toBe(0);
  });

  it('moves to the queue when the customer presses the human button, with a notice', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const r = await service.requestHuman(conversation.id);
    expect(r.conversation.state).toBe('queued');
    expect(r.notice?.author).toBe('system');
    expect((await service.requestHuman(conversation.id)).notice).toBeNull();
  });

  it('puts a handoff in the queue with its entry, placed as the placement says, and announces it', async () => {
    const placed: unknown[] = [];
    const placing = createConversationService({
      store, router: () => scriptedRouter(calls), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW',
      placeHandoff: (r) => (placed.push([r.trigger, r.topic]), { group: 'bank', priority: 1 }),
    });
    placing.subscribe((e) => events.push(e));
    const { conversation } = await placing.start({ channel: 'web', customerId: 'c1' });
    await placing.handleCustomerMessage(conversation.id, { text: '???' });
    const r = await placing.handleCustomerMessage(conversation.id, { text: '我的卡被盜刷' });
    expect(r.conversation).toMatchObject({ state: 'queued', consecutiveFallbacks: 0 });
    expect(placed).toEqual([['router', 'card.lost']]);
    expect(await store.getOpenHandoff(conversation.id)).toMatchObject({ trigger: 'router', topic: 'card.lost', group: 'bank', priority: 1, status: 'queued' });
    const queued = events.filter((e) => e.type === 'queued');
    expect(queued).toHaveLength(1);
    expect(events.map((e) => e.type).slice(-4)).toEqual(['message', 'turn', 'state', 'queued']);

    const other = (await placing.start({ channel: 'web', customerId: 'c2' })).conversation;
    await placing.requestHuman(other.id);
    expect(placed).toEqual([['router', 'card.lost'], ['button', null]]);
    expect(await store.getOpenHandoff(other.id)).toMatchObject({ trigger: 'button', group: 'bank' });
  });

  describe('the group its answers place it in', () => {
    const topicGroup = (topic: string | null): string | null => (topic === 'card.lost' ? 'bank' : null);
    const grouping = (on: Store, placed: (string | null)[] = []) =>
      createConversationService({
        store: on, router: () => scriptedRouter(calls), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW', topicGroup,
        placeHandoff: (r) => (placed.push(r.conversation.topicGroup), { group: 'bank', priority: 0 }),
      });

    it("stores the group of an answer's topic with the conversation, and an answer whose topic has none leaves it", async () => {
      const s = grouping(store);
      s.subscribe((e) => events.push(e));
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      expect(conversation.topicGroup).toBe('default');
      expect((await s.handleCustomerMessage(conversation.id, { text: '卡不見了' })).conversation.topicGroup).toBe('bank');
      expect((await s.handleCustomerMessage(conversation.id, { text: '???' })).conversation.topicGroup).toBe('bank');
      expect((await store.getConversation(conversation.id))?.topicGroup).toBe('bank');
      // Answered by a process that has not seen the conversation yet (no early routing): the same.
      const other = (await s.start({ channel: 'web', customerId: 'c2' })).conversation;
      const r = await grouping(store).handleCustomerMessage(other.id, { text: '卡不見了' });
      expect(r.conversation.topicGroup).toBe('bank');
      // The bot's answers are announced with the conversation's group as they left it.
      const answers = events.filter((e) => e.type === 'message' && e.message.author === 'bot' && e.conversation.id === conversation.id);
      expect(answers.map((e) => e.conversation.topicGroup)).toEqual(['bank', 'bank']);
    });

    it('works out the group of a conversation begun before groups were kept from its messages, once, when the bot next answers it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kefu-conversation-group-'));
      const path = join(dir, 'kefu.sqlite');
      const fileStore = openSqliteStore(path);
      const placed: (string | null)[] = [];
      try {
        const s = grouping(fileStore, placed);
        const forget = (id: string): void => {
          const db = new Database(path);
          db.prepare('UPDATE conversations SET topic_group = NULL WHERE id = ?').run(id); // as migration 7 leaves one
          db.close();
        };
        const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
        await s.handleCustomerMessage(conversation.id, { text: '卡不見了' });
        forget(conversation.id);
        // Its next answer (a fallback, no group of its own) is stored with the group the placement works out.
        expect((await s.handleCustomerMessage(conversation.id, { text: '???' })).conversation.topicGroup).toBe('bank');
        expect((await fileStore.getConversation(conversation.id))?.topicGroup).toBe('bank');
        expect(placed).toEqual([null]);
        await s.handleCustomerMessage(conversation.id, { text: '??? 2' });
        expect(placed).toEqual([null]); // once
        // The same for an answer from a process that routes it only after storing the message.
        forget(conversation.id);
        expect((await grouping(fileStore, placed).handleCustomerMessage(conversation.id, { text: '???' })).conversation.topicGroup).toBe('bank');
        expect(placed).toEqual([null, null]);
      } finally {
        await fileStore.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('posts messages that are not turns (an agent, a notice) without asking the bot, and not into a closed conversation', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const { message } = await service.postMessage(conversation.id, { author: 'agent', text: '您好，我是小美' });
    expect(message).toMatchObject({ author: 'agent', text: '您好，我是小美', seq: 1 });
    expect(calls).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'message', message: { id: message.id } });
    await service.close(conversation.id);
    await expect(service.postMessage(conversation.id, { author: 'agent', text: '還在嗎' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
  });

  it("posts an agent's message once per client message id, and refuses an id another sender used", async () => {
    const ming = await store.createAgent({ username: 'ming', displayName: '王小明', role: 'agent', groups: [], passwordHash: 'h' });
    const mei = await store.createAgent({ username: 'mei', displayName: '小美', role: 'agent', groups: [], passwordHash: 'h' });
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const input = { author: 'agent' as const, text: '您好', clientMessageId: 'a-1', agent: ming };
    const first = await service.postMessage(conversation.id, input);
    expect(first).toMatchObject({ duplicate: false, message: { author: 'agent', agentId: ming.id, agentName: '王小明', clientMessageId: 'a-1' } });
    const pushed = events.length;
    expect(await service.postMessage(conversation.id, input)).toMatchObject({ duplicate: true, message: { id: first.message.id } });
    expect(events).toHaveLength(pushed); // a retry pushes nothing
    await expect(service.postMessage(conversation.id, { ...input, agent: mei })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    await expect(service.handleCustomerMessage(conversation.id, { text: '您好', clientMessageId: 'a-1' })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    expect(await store.listMessages(conversation.id)).toHaveLength(1);
  });

  it('runs exclusive work between turns of the same conversation, never in the middle of one', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const order: string[] = [];
    const turn = service.handleCustomerMessage(conversation.id, { text: '一' }).then(() => order.push('turn'));
    const exclusive = service.exclusive(conversation.id, async () => {
      order.push(`exclusive sees ${(await store.listMessages(conversation.id)).length} messages`);
    });
    await Promise.all([turn, exclusive]);
    expect(order).toEqual(['turn', 'exclusive sees 2 messages']);
  });

  it('resumes the open conversation of the same customer', async () => {
    const first = await service.start({ channel: 'web', customerId: 'browser-9' });
    const again = await service.start({ channel: 'web', customerId: 'browser-9', resume: true });
    expect(again).toEqual({ conversation: first.conversation, resumed: true });
    await service.close(first.conversation.id);
    expect((await service.start({ channel: 'web', customerId: 'browser-9', resume: true })).resumed).toBe(false);
  });

  it('refuses messages to closed or unknown conversations and feedback on non-bot messages', async () => {
    const { conversation } = await service.start({ channel: 'web', customerId: 'c1' });
    const r = await service.handleCustomerMessage(conversation.id, { text: '卡' });
    await expect(service.rateAnswer(conversation.id, r.customer.id, 'up')).rejects.toMatchObject({ code: 'KEFU_NOT_A_BOT_MESSAGE' });
    expect((await service.rateAnswer(conversation.id, r.reply!.id, 'down')).feedback).toBe('down');
    await service.close(conversation.id);
    await expect(service.handleCustomerMessage(conversation.id, { text: '卡' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
    await expect(service.handleCustomerMessage('nope', { text: '卡' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_NOT_FOUND' });
  });

  it("lets the customer's side read and rate a closed conversation only for readableAfterCloseMinutes", async () => {
    let clock = Date.now();
    const s = createConversationService({ store, router: () => scriptedRouter([]), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW', readableAfterCloseMinutes: 60, now: () => clock });
    const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
    const r = await s.handleCustomerMessage(conversation.id, { text: '卡' });
    const closed = await s.close(conversation.id);
    clock = Date.parse(closed.closedAt!) + 59 * 60_000;
    expect((await s.history(conversation.id)).messages).toHaveLength(2);
    expect((await s.rateConversation(conversation.id, 5, null)).rating).toMatchObject({ stars: 5 });
    clock = Date.parse(closed.closedAt!) + 61 * 60_000;
    for (const call of [() => s.history(conversation.id), () => s.rateConversation(conversation.id, 1, null), () => s.rateAnswer(conversation.id, r.reply!.id, 'down')]) {
      await expect(call()).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_EXPIRED', status: 410 });
    }
    // Nothing stored is lost: the agents' side (the store) still has all of it, the rating given in time included.
    expect(await store.listMessages(conversation.id)).toHaveLength(2);
    expect((await store.getMessage(r.reply!.id))?.feedback).toBeNull();
    expect((await store.getConversation(conversation.id))?.rating).toMatchObject({ stars: 5 });
    // An open conversation is readable however old, and null turns the limit off.
    const open = await s.start({ channel: 'web', customerId: 'c2' });
    clock += 365 * 24 * 3_600_000;
    expect((await s.history(open.conversation.id)).conversation.state).toBe('bot');
    const unlimited = createConversationService({ store, router: () => scriptedRouter([]), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW', readableAfterCloseMinutes: null, now: () => clock });
    expect((await unlimited.history(conversation.id)).messages).toHaveLength(2);
  });

  describe('routing before the store write', () => {
    // Records the store's writes of customer turns, in order: appendTurn, or appendMessage with its author.
    const recordWrites = (): string[] => {
      const writes: string[] = [];
      const append = store.appendMessage.bind(store);
      const turn = store.appendTurn.bind(store);
      store.appendMessage = async (input) => (writes.push(`appendMessage:${input.author}`), append(input));
      store.appendTurn = async (input) => (writes.push('appendTurn'), turn(input));
      return writes;
    };

    // A router whose answer names the route state it was given, so a test can see which state an answer came from.
    const stateRouter = (seen: RouteState[]): Router => {
      const base = scriptedRouter([]);
      const route = (text: string, state?: RouteState): Outcome => {
        seen.push({ ...state! });
        return { ...base.route(text), topic: `fallbacks-${state?.consecutiveFallbacks}`, reply: `${state?.locale}:${state?.consecutiveFallbacks}` };
      };
      return { ...base, route, decide: (t) => route(t) };
    };

    it('routes on the state the conversation was last seen in, and stores the message and that answer in one write', async () => {
      const seen: RouteState[] = [];
      const s = createConversationService({ store, router: () => stateRouter(seen), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      const writes = recordWrites();
      const r = await s.handleCustomerMessage(conversation.id, { text: '卡', clientMessageId: 'm1' });
      expect(r.reply?.text).toBe('zh-TW:0');
      expect(seen).toEqual([{ consecutiveFallbacks: 0, locale: 'zh-TW' }]);
      expect(writes).toEqual(['appendTurn']);
      expect((await store.listMessages(conversation.id)).map((m) => [m.author, m.text])).toEqual([['customer', '卡'], ['bot', 'zh-TW:0']]);
      // A fallback counts in the same write: the next turn routes on one fallback, and the stored conversation agrees.
      const fallback = await s.handleCustomerMessage(conversation.id, { text: '???', clientMessageId: 'm2' });
      expect(fallback.reply?.outcome?.outcome).toBe('fallback');
      expect(fallback.conversation.consecutiveFallbacks).toBe(1);
      expect((await store.getConversation(conversation.id))?.consecutiveFallbacks).toBe(1);
      await s.handleCustomerMessage(conversation.id, { text: '卡', clientMessageId: 'm3' });
      expect(seen.at(-1)).toEqual({ consecutiveFallbacks: 1, locale: 'zh-TW' });
      expect(writes).toEqual(['appendTurn', 'appendTurn', 'appendTurn']);
      // A retry of a recent message is not routed again and stores nothing.
      const retry = await s.handleCustomerMessage(conversation.id, { text: '卡', clientMessageId: 'm1' });
      expect(retry).toMatchObject({ duplicate: true, reply: { id: r.reply!.id } });
      expect(seen).toHaveLength(3);
    });

    it('routes early for a conversation this process only resumed (a reload after a restart)', async () => {
      const { conversation } = await service.start({ channel: 'web', customerId: 'reloading' });
      const seen: RouteState[] = [];
      const fresh = createConversationService({ store, router: () => stateRouter(seen), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      expect((await fresh.start({ channel: 'web', customerId: 'reloading', resume: true })).resumed).toBe(true);
      const writes = recordWrites();
      await fresh.handleCustomerMessage(conversation.id, { text: '卡' });
      expect(seen).toHaveLength(1);
      expect(writes).toEqual(['appendTurn']);
    });

    it('stays silent when an agent elsewhere takes the conversation while its answer is being worked out', async () => {
      const { conversation } = await service.start({ channel: 'web', customerId: 'taken' });
      const agent = await store.createAgent({ username: 'elsewhere', displayName: '別處', role: 'agent', groups: [], passwordHash: 'h' });
      // Another instance (a service with nothing cached: the message is stored first, then routed) is routing when an
      // agent on a third pulls the conversation.
      let routing!: () => void;
      const routingStarted = new Promise<void>((resolve) => (routing = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const base = scriptedRouter([]);
      const slow = { ...base, route: async (t: string) => (routing(), await held, base.route(t)) };
      const other = createConversationService({ store, router: () => slow, log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const turn = other.handleCustomerMessage(conversation.id, { text: '卡不見了' });
      await routingStarted;
      await store.pullConversation({ conversationId: conversation.id, kind: 'chat', trigger: 'pull', topic: null, group: 'default', priority: 0, agentId: agent.id });
      release();
      const r = await turn;
      expect(r.reply).toBeNull();
      expect(r.conversation.state).toBe('agent');
      expect((await store.listMessages(conversation.id)).map((m) => m.author)).toEqual(['customer']);
    });

    it('keeps a handoff answer stored just before an agent took the conversation, and queues nothing', async () => {
      const { conversation } = await service.start({ channel: 'web', customerId: 'taken-2' });
      const agent = await store.createAgent({ username: 'quick', displayName: '快', role: 'agent', groups: [], passwordHash: 'h' });
      // The agent pulls it in the moment between the bot's handoff notice being stored and the queue entry.
      const append = store.appendMessage.bind(store);
      store.appendMessage = async (input) => {
        const stored = await append(input);
        if (input.author === 'bot') {
          await store.pullConversation({ conversationId: conversation.id, kind: 'chat', trigger: 'pull', topic: null, group: 'default', priority: 0, agentId: agent.id });
        }
        return stored;
      };
      const other = createConversationService({ store, router: () => scriptedRouter([]), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const seen: ConversationEvent[] = [];
      other.subscribe((e) => seen.push(e));
      const r = await other.handleCustomerMessage(conversation.id, { text: '我要找真人' });
      expect(r.reply?.text).toBe('回覆:我要找真人');
      expect(r.conversation.state).toBe('agent');
      expect((await store.listHandoffs(conversation.id)).map((h) => h.trigger)).toEqual(['pull']);
      // The stored reply is announced, and no queue entry is.
      expect(seen.filter((e) => e.type === 'message').map((e) => (e as { message: { author: string } }).message.author)).toEqual(['customer', 'bot']);
      expect(seen.some((e) => e.type === 'queued')).toBe(false);
    });

    it('stops routing early for a conversation found closed behind its back', async () => {
      const seen: RouteState[] = [];
      const s = createConversationService({ store, router: () => stateRouter(seen), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      await store.updateConversation(conversation.id, { state: 'closed' });
      await expect(s.handleCustomerMessage(conversation.id, { text: '一' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
      await expect(s.handleCustomerMessage(conversation.id, { text: '二' })).rejects.toMatchObject({ code: 'KEFU_CONVERSATION_CLOSED' });
      expect(seen).toHaveLength(1); // the first, routed early before the store said closed; not the second
    });

    it('routes again when the stored conversation changed behind its back (another instance, a restart)', async () => {
      const seen: RouteState[] = [];
      const s = createConversationService({ store, router: () => stateRouter(seen), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      await store.updateConversation(conversation.id, { consecutiveFallbacks: 2, locale: 'en' });
      const r = await s.handleCustomerMessage(conversation.id, { text: '卡' });
      expect(seen).toEqual([{ consecutiveFallbacks: 0, locale: 'zh-TW' }, { consecutiveFallbacks: 2, locale: 'en' }]);
      expect(r.reply?.text).toBe('en:2');
      expect(r.reply?.outcome?.topic).toBe('fallbacks-2');
    });

    it('stays silent when a person took the conversation behind its back, whatever the early routing said', async () => {
      const seen: RouteState[] = [];
      const s = createConversationService({ store, router: () => stateRouter(seen), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      await store.updateConversation(conversation.id, { state: 'agent' });
      const r = await s.handleCustomerMessage(conversation.id, { text: '卡' });
      expect(r.reply).toBeNull();
      expect((await store.listMessages(conversation.id)).map((m) => m.author)).toEqual(['customer']);
      // Now known to be with a person: the next message is not routed at all.
      await s.handleCustomerMessage(conversation.id, { text: '還在嗎' });
      expect(seen).toHaveLength(1);
    });

    it("stores the message when the early routing fails, routes it again on the stored state, and fails the turn only with that routing's error", async () => {
      // This router fails on a conversation with no fallbacks and answers the others.
      const base = scriptedRouter([]);
      const routedOn: number[] = [];
      const picky: Router = {
        ...base,
        route: (t, state) => {
          routedOn.push(state!.consecutiveFallbacks);
          if (state?.consecutiveFallbacks === 0) throw new Error('router down');
          return base.route(t);
        },
      };
      const s = createConversationService({ store, router: () => picky, log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      await expect(s.handleCustomerMessage(conversation.id, { text: '卡' })).rejects.toThrow('router down');
      expect(routedOn).toEqual([0, 0]); // early, then again on the stored conversation
      expect((await store.listMessages(conversation.id)).map((m) => m.author)).toEqual(['customer']);
      // The early routing (on 0 fallbacks, as last seen) fails; the stored conversation says 1, and that routing is used.
      await store.updateConversation(conversation.id, { consecutiveFallbacks: 1 });
      const r = await s.handleCustomerMessage(conversation.id, { text: '卡' });
      expect(r.reply?.text).toBe('回覆:卡');
      expect(routedOn).toEqual([0, 0, 0, 1]);
    });

    it('stores the message without waiting for a stuck early routing, and answers with it once it is back', async () => {
      const base = scriptedRouter([]);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const slow = { route: async (t: string) => (await held, base.route(t)) };
      const s = createConversationService({ store, router: () => slow, log: pino({ level: 'silent' }), defaultLocale: 'zh-TW', earlyRouteWaitMs: 20 });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      const turn = s.handleCustomerMessage(conversation.id, { text: '卡', clientMessageId: 'm1' });
      await new Promise((r) => setTimeout(r, 100));
      expect((await store.listMessages(conversation.id)).map((m) => m.author)).toEqual(['customer']);
      release();
      const r = await turn;
      expect(r.reply?.text).toBe('回覆:卡');
      expect((await store.listMessages(conversation.id)).map((m) => m.author)).toEqual(['customer', 'bot']);
    });

    it('announces a turn stored in one write as the customer message, then the reply and the turn, with the fallback count each left', async () => {
      const seen: ConversationEvent[] = [];
      const s = createConversationService({ store, router: () => scriptedRouter([]), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
      const { conversation } = await s.start({ channel: 'web', customerId: 'c1' });
      s.subscribe((e) => seen.push(e));
      await s.handleCustomerMessage(conversation.id, { text: '???', clientMessageId: 'm1' });
      expect(seen.map((e) => [e.type, e.type === 'message' ? e.message.author : null, e.conversation.consecutiveFallbacks])).toEqual([
        ['message', 'customer', 0],
        ['message', 'bot', 1],
        ['turn', null, 1],
      ]);
      // Stored alone (the conversation changed behind this process's back), then answered: the same announcements.
      seen.length = 0;
      await store.updateConversation(conversation.id, { consecutiveFallbacks: 0 });
      await s.handleCustomerMessage(conversation.id, { text: '???', clientMessageId: 'm2' });
      expect(seen.map((e) => [e.type, e.type === 'message' ? e.message.author : null, e.conversation.consecutiveFallbacks])).toEqual([
        ['message', 'customer', 0],
        ['message', 'bot', 1],
        ['turn', null, 1],
      ]);
    });
  });
});
