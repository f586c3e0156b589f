import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { openSqliteStoreOnThread } from '../../src/store/sqlite-threaded-store.ts';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, CHECKPOINTER_ALIVE, CHECKPOINT_NICENESS, CHECKPOINT_DEFAULTS, WAL_FRAMES, createWalState, startCheckpointer } from '../../src/store/sqlite-checkpointer.ts';

const dir = mkdtempSync(join(tmpdir(), 'kefu-checkpoint-'));
const log = pino({ level: 'silent' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const until = async (what: () => boolean, ms = 5_000): Promise<void> => {
  const by = Date.now() + ms;
  while (!what()) {
    if (Date.now() > by) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('WAL checkpoints on their own thread', () => {
  it.runIf(process.platform === 'linux')('runs at a lower priority than the threads that answer, itself only', async () => {
    // Each thread's niceness, from /proc: field 19 of its stat, after the command in parentheses.
    const niceness = (): number[] =>
      readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    const before = niceness();
    const path = join(dir, 'nice', 'kefu.sqlite');
    const store = openSqliteStore(path);
    const checkpointer = await startCheckpointer(path, { log, walState: createWalState(), intervalMs: 50 });
    try {
      const during = niceness();
      expect(during.filter((n) => n === CHECKPOINT_NICENESS).length).toBe(before.filter((n) => n === CHECKPOINT_NICENESS).length + 1);
      expect(niceness()[0]).toBe(before[0]); // the main thread's own is untouched
    } finally {
      await checkpointer.stop();
      await store.close();
    }
  });

  it('copies the WAL into the database file while the store writes, and the store restarts the WAL when told', async () => {
    const path = join(dir, 'a', 'kefu.sqlite');
    const walState = createWalState();
    const store = openSqliteStore(path, { externalCheckpoints: { walState, restartFrames: 200 } });
    const checkpointer = await startCheckpointer(path, { log, walState, intervalMs: 5, restartFrames: 200 });
    const before = statSync(path).size;
    const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    for (let i = 0; i < 600; i++) {
      await store.appendMessage({ conversationId: id, author: 'customer', text: `第${i}則 ${'字'.repeat(300)}` });
      await new Promise((r) => setImmediate(() => setImmediate(r)));
      // Every 50 appends (some 250 frames, over restartFrames) the thread is given time to catch up, however busy the
      // machine: a pass, or its word that a restart is due (it then waits for the store's next commit to do it). On a
      // loaded machine it fell behind the writes and the WAL outgrew the bound below without anything being wrong.
      if (i % 50 === 49) {
        const passes = checkpointer.passes;
        await until(() => checkpointer.passes > passes || Atomics.load(walState, WAL_FRAMES) >= 200);
      }
    }
    expect(checkpointer.passes).toBeGreaterThan(0);
    expect(statSync(path).size).toBeGreaterThan(before);
    // 600 appends write well over 3,000 WAL frames (12 MB), and the store's own backstop is far above that: a WAL
    // file under 2,000 frames means the store restarted it (written from its start again) when the thread said so.
    expect(statSync(`${path}-wal`).size).toBeLessThan(2_000 * 4096);
    expect(Atomics.load(walState, WAL_FRAMES)).toBeLessThan(2_000);
    await checkpointer.stop();
    await store.close();
    const db = new Database(path, { readonly: true });
    expect((db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n).toBe(600);
    db.close();
  });

  it('checkpoints by itself while no checkpoint thread runs, and leaves it to the thread while one does', async () => {
    const write = async (path: string, walState: Int32Array | null, between?: () => void): Promise<number[]> => {
      const store = openSqliteStore(path, walState ? { externalCheckpoints: { walState, restartFrames: 16_000 } } : {});
      const sizes = [statSync(path).size];
      const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
      // Each round is well over SQLite's default of 1,000 WAL pages and well under the backstop.
      for (const round of [0, 1]) {
        if (round === 1) between?.();
        for (let i = 0; i < 400; i++) await store.appendMessage({ conversationId: id, author: 'customer', text: `第${i}則 ${'字'.repeat(300)}` });
        sizes.push(statSync(path).size);
      }
      await store.close();
      return sizes;
    };
    // No thread at all: SQLite's own checkpoint copies pages into the file.
    const own = await write(join(dir, 'b', 'kefu.sqlite'), null);
    expect(own[1]).toBeGreaterThan(own[0]!);
    // A live thread (the flag set) and then one that died (the flag cleared): nothing copied, then copies again.
    const walState = createWalState();
    Atomics.store(walState, CHECKPOINTER_ALIVE, 1);
    const handedOff = await write(join(dir, 'c', 'kefu.sqlite'), walState, () => Atomics.store(walState, CHECKPOINTER_ALIVE, 0));
    expect(handedOff[1]).toBe(handedOff[0]);
    expect(handedOff[2]).toBeGreaterThan(handedOff[1]!);
    expect(BACKSTOP_AUTOCHECKPOINT_PAGES).toBeGreaterThan(CHECKPOINT_DEFAULTS.restartFrames);
  });

  it('marks the thread alive while it runs and not once it has stopped', async () => {
    const path = join(dir, 'g', 'kefu.sqlite');
    const store = openSqliteStore(path);
    const walState = createWalState();
    const checkpointer = await startCheckpointer(path, { log, walState, intervalMs: 5 });
    expect(Atomics.load(walState, CHECKPOINTER_ALIVE)).toBe(1);
    await until(() => checkpointer.passes > 0);
    await checkpointer.stop();
    expect(Atomics.load(walState, CHECKPOINTER_ALIVE)).toBe(0);
    await store.close();
  });

  it('does not hold the store up when another connection keeps reading an old snapshot (a backup, litestream, a shell)', async () => {
    const path = join(dir, 'e', 'kefu.sqlite');
    const walState = createWalState();
    const store = openSqliteStore(path, { externalCheckpoints: { walState, restartFrames: 100 } });
    const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    const reader = new Database(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) AS n FROM messages').get();
    await store.appendMessage({ conversationId: id, author: 'customer', text: 'after the snapshot' });
    Atomics.store(walState, WAL_FRAMES, 1_000); // the checkpoint thread says the WAL is due for a restart
    await store.appendMessage({ conversationId: id, author: 'customer', text: 'the commit the restart follows' });
    const started = performance.now();
    await new Promise((r) => setImmediate(() => setImmediate(() => setImmediate(r))));
    // The restart cannot wait for the reader: it copies what it can and leaves the rest for later passes.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(Atomics.load(walState, WAL_FRAMES)).toBe(0);
    reader.exec('COMMIT');
    reader.close();
    await store.close();
  }, 15_000);

  it('restarts a WAL that is due even when a write arrives in every turn of the event loop', async () => {
    const path = join(dir, 'f', 'kefu.sqlite');
    const walState = createWalState();
    const store = openSqliteStore(path, { externalCheckpoints: { walState, restartFrames: 100 } });
    const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    Atomics.store(walState, WAL_FRAMES, 1_000);
    // One write per turn, as a busy store thread receives calls: a batch is open whenever the restart's turn comes.
    const writes: Promise<unknown>[] = [];
    for (let turn = 0; turn < 50; turn++) {
      writes.push(store.appendMessage({ conversationId: id, author: 'customer', text: `m${turn}` }));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    expect(Atomics.load(walState, WAL_FRAMES)).toBe(0);
    await store.close();
  });

  it('runs with the threaded store on a file and stops before it closes, keeping every write', async () => {
    const path = join(dir, 'd', 'kefu.sqlite');
    const store = await openSqliteStoreOnThread(path, { log, checkpoints: { intervalMs: 10, restartFrames: 50 } });
    const { id } = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.appendMessage({ conversationId: id, author: 'customer', text: `m${i} ${'字'.repeat(200)}`, clientMessageId: `k${i}` })));
    await store.close();
    const db = new Database(path, { readonly: true });
    expect((db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n).toBe(300);
    db.close();
  });
});
