import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { pino } from 'pino';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { createConversationService, type ConversationEvent, type ConversationService } from '../../src/conversation/conversation-service.ts';
import { startIdleCloser, type IdleCloser } from '../../src/conversation/idle-closer.ts';
import type { Store } from '../../src/store/store.ts';
import { scriptedRouter } from '../http/test-app.ts';

describe('idle conversations', () => {
  let store: Store;
  let service: ConversationService;
  let events: ConversationEvent[];
  let closer: IdleCloser | null = null;
  // The closer's clock runs 31 minutes ahead of the store's: everything written so far has been quiet 31 minutes.
  let ahead = 31 * 60_000;
  beforeEach(() => {
    store = openSqliteStore(':memory:');
    service = createConversationService({ store, router: () => scriptedRouter(), log: pino({ level: 'silent' }), defaultLocale: 'zh-TW' });
    events = [];
    service.subscribe((e) => events.push(e));
    ahead = 31 * 60_000;
  });
  afterEach(async () => {
    await closer?.stop();
    await store.close();
  });
  const start = (idleMinutes = 30) => {
    // The clock stops when the closer starts: a sweep's 'now' is that moment, however long the test then takes.
    const at = Date.now() + ahead;
    return (closer = startIdleCloser({ service, store, log: pino({ level: 'silent' }), idleMinutes, everyMs: 3_600_000, now: () => at }));
  };

  it('closes conversations quiet with the bot, with a notice in their language, and leaves those with people alone', async () => {
    const zh = (await service.start({ channel: 'web', customerId: 'zh-customer' })).conversation;
    const en = (await service.start({ channel: 'web', customerId: 'en-customer', locale: 'en' })).conversation;
    await service.handleCustomerMessage(en.id, { text: 'hello' });
    const queued = (await service.start({ channel: 'web', customerId: 'waiting' })).conversation;
    await service.requestHuman(queued.id);
    expect(await start().sweep()).toBe(2);
    for (const [c, notice] of [[zh, /30 分鐘沒有新訊息/], [en, /after 30 minutes without a message/]] as const) {
      const { conversation, messages } = await service.history(c.id);
      expect(conversation.state).toBe('closed');
      expect(messages.at(-1)).toMatchObject({ author: 'system', text: expect.stringMatching(notice) });
    }
    expect((await service.get(queued.id)).state).toBe('queued');
    // Channels hear of it like any close: the notice, then the state.
    expect(events.filter((e) => e.conversation.id === zh.id).slice(-2).map((e) => e.type)).toEqual(['message', 'state']);
    expect(await closer!.sweep()).toBe(0);
  });

  it('keeps a conversation whose customer writes while the sweep runs, and one not yet quiet long enough', async () => {
    // A router that holds the turn until released: the customer's message is being answered when the sweep comes.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const scripted = scriptedRouter();
    service = createConversationService({
      store, log: pino({ level: 'silent' }), defaultLocale: 'zh-TW',
      router: () => ({ ...scripted, route: async (text, state) => (await held, scripted.route(text, state)) }),
    });
    const c = (await service.start({ channel: 'web', customerId: 'talker' })).conversation;
    const turn = service.handleCustomerMessage(c.id, { text: '我的卡不見了' });
    // By the closer's clock the conversation has been quiet 30 minutes since its start, a few ms ago: it is listed.
    await new Promise((resolve) => setTimeout(resolve, 5));
    ahead = 30 * 60_000;
    const sweep = start().sweep();
    // The answer (and its write) comes after that moment, while the sweep waits for the conversation's lock.
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await turn;
    expect(await sweep).toBe(0);
    const { conversation, messages } = await service.history(c.id);
    expect(conversation.state).toBe('bot');
    expect(messages.map((m) => m.author)).toEqual(['customer', 'bot']);
    // Not quiet long enough: left alone.
    await closer!.stop();
    ahead = 0;
    expect(await start().sweep()).toBe(0);
  });

  it('works through a backlog larger than one batch', async () => {
    for (let i = 0; i < 230; i++) await service.start({ channel: 'api', customerId: `backlog-${i}` });
    expect(await start().sweep()).toBe(230);
    expect(await store.countOpenConversations()).toEqual({ bot: 0, queued: 0, agent: 0 });
  });
});
