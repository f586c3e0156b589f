import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { startedWorkers } from '../workers/recording-ts-worker.ts';

// Threads started are recorded, so a test can kill one as a crash would.
vi.mock('../../src/workers/ts-worker.ts', () => import('../workers/recording-ts-worker.ts'));
const { openSqliteStoreOnThread } = await import('../../src/store/sqlite-threaded-store.ts');

const dir = mkdtempSync(join(tmpdir(), 'kefu-sqlite-thread-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite store thread that dies', () => {
  it('fails the calls it held with KEFU_STORE_FAILED, reopens the database on a new thread, and keeps what was committed', async () => {
    const store = await openSqliteStoreOnThread(join(dir, 'kefu.sqlite'), { log: pino({ level: 'silent' }) });
    const c = await store.createConversation({ channel: 'web', customerId: 'u1', locale: 'zh-TW' });
    await store.appendMessage({ conversationId: c.id, author: 'customer', text: '已存', clientMessageId: 'a' });
    const waiting = store.getConversation(c.id);
    const storeThreads = () => startedWorkers.filter((w) => w.name === 'kefu-store');
    await storeThreads()[0]!.worker.terminate();
    await expect(waiting).rejects.toMatchObject({ code: 'KEFU_STORE_FAILED' });
    await vi.waitFor(() => expect(storeThreads()).toHaveLength(2), { timeout: 10_000 });
    // The new thread answers once it has the database open; what was acknowledged before is there.
    await vi.waitFor(async () => expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['已存']), { timeout: 30_000, interval: 100 });
    await store.appendMessage({ conversationId: c.id, author: 'customer', text: '之後', clientMessageId: 'b' });
    expect((await store.listMessages(c.id)).map((m) => m.text)).toEqual(['已存', '之後']);
    await store.close();
  });
});
