import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { openSqliteStoreOnThread } from '../../src/store/sqlite-threaded-store.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { storeContract } from './store-contract.ts';
import { openStore } from '../../src/store/open-store.ts';
import { loadConfig } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'kefu-sqlite-thread-'));
const log = pino({ level: 'silent' });
let n = 0;
let current = '';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The same contract as the SQLite store in this thread: the thread must change nothing a caller can see.
storeContract(
  'sqlite on its own thread',
  async () => openSqliteStoreOnThread((current = join(dir, `db-${++n}`, 'kefu.sqlite')), { log }),
  async () => openSqliteStoreOnThread(current, { log }),
);

describe('sqlite store on its own thread', () => {
  it('syncs its commits as config.database.synchronous says, on the thread as in the process', async () => {
    const seen: [boolean, string, string | undefined][] = [];
    for (const thread of [true, false]) {
      for (const synchronous of ['normal', 'full'] as const) {
        const store = await openStore(loadConfig({ env: {}, overrides: { database: { path: join(dir, `sync-${thread}-${synchronous}`, 'kefu.sqlite'), thread, synchronous } } }), log);
        seen.push([thread, synchronous, await store.durability?.()]);
        await store.close();
      }
    }
    expect(seen).toEqual([[true, 'normal', 'normal'], [true, 'full', 'full'], [false, 'normal', 'normal'], [false, 'full', 'full']]);
  });

  it('refuses to open what is not a database, with the reason', async () => {
    const path = join(dir, 'not-a-db');
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(path);
    writeFileSync(join(path, 'kefu.sqlite'), 'this is not SQLite '.repeat(100));
    await expect(openSqliteStoreOnThread(join(path, 'kefu.sqlite'), { log })).rejects.toThrow(/not a database/);
  });

  it('keeps what it acknowledged for the next process, and refuses calls once closed', async () => {
    const path = join(dir, 'handover', 'kefu.sqlite');
    const threaded = await openSqliteStoreOnThread(path, { log });
    const c = await threaded.createConversation({ channel: 'web', customerId: 'u1', locale: 'zh-TW' });
    await threaded.appendMessage({ conversationId: c.id, author: 'customer', text: '卡不見了', clientMessageId: 'x' });
    await threaded.close();
    await expect(threaded.getConversation(c.id)).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED' });
    const direct = openSqliteStore(path);
    expect((await direct.listMessages(c.id)).map((m) => m.text)).toEqual(['卡不見了']);
    await direct.close();
  });

  it('fails only the call whose arguments cannot cross to the thread, not the others made with it', async () => {
    const threaded = await openSqliteStoreOnThread(join(dir, 'clone', 'kefu.sqlite'), { log });
    const c = await threaded.createConversation({ channel: 'web', customerId: 'u1', locale: 'zh-TW' });
    const [good, bad] = await Promise.allSettled([
      threaded.appendMessage({ conversationId: c.id, author: 'customer', text: 'ok' }),
      threaded.appendMessage({ conversationId: c.id, author: 'customer', text: 'bad', quickReplies: [{ topic: 'x', title: (() => 'no') as unknown as string }] }),
    ]);
    expect(good.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'DataCloneError' } });
    expect((await threaded.listMessages(c.id)).map((m) => m.text)).toEqual(['ok']);
    await threaded.close();
  });

  it("does not send a bot reply's outcome back across: the caller gets its own object again, equal to the stored one", async () => {
    const threaded = await openSqliteStoreOnThread(join(dir, 'echo', 'kefu.sqlite'), { log });
    const c = await threaded.createConversation({ channel: 'web', customerId: 'u1', locale: 'zh-TW' });
    const outcome = {
      outcome: 'answer' as const, topic: 'card.lost', brain: 'faq' as const, confidence: 0.9, candidates: [], entities: [], needsVerification: false,
      trace: { normalised: '卡', faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
    };
    const single = await threaded.appendMessage({ conversationId: c.id, author: 'bot', text: 'a', outcome });
    expect(single.message.outcome).toBe(outcome);
    const turn = await threaded.appendTurn({
      conversationId: c.id, customer: { text: '卡', clientMessageId: 't1' }, reply: { text: 'b', quickReplies: [], outcome },
      routedOn: { consecutiveFallbacks: 0, locale: 'zh-TW' }, consecutiveFallbacks: 0,
    });
    expect(turn.reply?.outcome).toBe(outcome);
    expect((await threaded.listMessages(c.id)).map((m) => m.outcome)).toEqual([outcome, null, outcome]);
    await threaded.close();
  });

  it("gives back the store's coded errors as they are", async () => {
    const threaded = await openSqliteStoreOnThread(join(dir, 'errors', 'kefu.sqlite'), { log });
    await expect(threaded.appendMessage({ conversationId: 'nope', author: 'customer', text: 'x' })).rejects.toMatchObject({
      name: 'KefuError', code: 'KEFU_CONVERSATION_NOT_FOUND', status: 404,
    });
    await threaded.close();
  });
});
