import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Socket as ClientSocket } from 'socket.io-client';
import { createApp, type KefuApp } from '../../src/app.ts';
import { startConversation, testConfig } from './test-app.ts';
import { ask, fakeSuggest, HANDOFF_PACK, handoffRouter, openSocket, recorder, signIn } from './console-kit.ts';

type LivePush = { conversation: { id: string; state: string }; message: { text: string; author: string } };
type LiveItem = { conversation: { id: string } };

// The live list shows a bot conversation only to the agents of its group, which the conversation's answers decide
// (a card question makes it the bank's). That must hold whichever process pushes the news: one that has just
// started has seen none of the conversation's earlier answers.
describe("the live list's groups across a restart", () => {
  const dirs: string[] = [];
  const apps: KefuApp[] = [];
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await Promise.all(apps.splice(0).map((a) => a.stop()));
    dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const boot = async (path: string): Promise<KefuApp> => {
    const app = await createApp(testConfig({ database: { path } }), { router: handoffRouter(), pack: HANDOFF_PACK, suggest: fakeSuggest, log: pino({ level: 'silent' }) });
    apps.push(app);
    await app.start();
    return app;
  };
  const databaseFile = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kefu-live-groups-'));
    dirs.push(dir);
    return join(dir, 'kefu.sqlite');
  };
  const say = async (app: KefuApp, c: { id: string; headers: Record<string, string> }, text: string): Promise<void> => {
    const res = await app.fastify.inject({ method: 'POST', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers, payload: { text } });
    expect(res.statusCode, res.body).toBe(200);
  };
  /** A console watching the live list, with what it was shown on opening it. */
  const liveConsole = async (app: KefuApp, username: string, groups: string[]) => {
    const s = await openSocket(app, '/agent', { token: (await signIn(app, username, { groups })).token });
    sockets.push(s);
    const news = recorder<LivePush>(s, 'live:message');
    const states = recorder<{ conversation: { id: string; state: string } }>(s, 'live:state');
    const gone = recorder<{ conversationId: string }>(s, 'live:gone');
    const watched = await ask(s, 'live:watch', {});
    if (!watched.ok) throw new Error(`live:watch refused: ${watched.error.code}`);
    return { news, states, gone, list: (watched.conversations as LiveItem[]).map((i) => i.conversation.id) };
  };

  it("keeps a card conversation on the bank's list, and off the others', when its first answer after a restart names no group", async () => {
    const path = databaseFile();
    const first = await boot(path);
    const c = await startConversation(first, { channel: 'web', customerId: 'browser-restart-bank' });
    await say(first, c, '信用卡掉了'); // card.lost: the bank's
    await first.stop();

    const second = await boot(path);
    const bank = await liveConsole(second, 'bank-1', ['bank']);
    const life = await liveConsole(second, 'life-1', ['life']);
    expect(bank.list).toContain(c.id);
    expect(life.list).not.toContain(c.id);

    await say(second, c, '???'); // a fallback: no group of its own, the conversation is still the bank's
    await bank.news.next((m) => m.conversation.id === c.id && m.message.text === '回覆:???');
    await bank.news.next((m) => m.conversation.id === c.id && m.message.text === '???');
    // A life conversation after it: the life console hears of it, and by then would have heard of the bank's.
    const other = await startConversation(second, { channel: 'web', customerId: 'browser-restart-life' });
    await say(second, other, '保單怎麼查');
    await life.news.next((m) => m.conversation.id === other.id && m.message.text === '回覆:保單怎麼查');
    expect(life.news.seen.filter((m) => m.conversation.id === c.id)).toEqual([]);

    // Off the bank's list when it leaves the bot (a person asked for), and nobody else is told of it.
    await say(second, c, '我要找真人');
    await bank.states.next((s) => s.conversation.id === c.id && s.conversation.state === 'queued');
    await say(second, other, '保單要怎麼繳費');
    await life.news.next((m) => m.conversation.id === other.id && m.message.text === '回覆:保單要怎麼繳費');
    expect(life.states.seen.filter((s) => s.conversation.id === c.id)).toEqual([]);
  });

  // The widget reloading first reads the history, which makes the next message take the one-write path (message and
  // answer stored together); without it the message is stored first, then answered.
  it.each([[false], [true]])("takes a conversation off its old group's lists when its first answer after a restart moves it to another group (history read first: %s)", async (reloaded) => {
    const path = databaseFile();
    const first = await boot(path);
    const c = await startConversation(first, { channel: 'web', customerId: `browser-restart-move-${reloaded}` });
    await say(first, c, '信用卡掉了');
    await first.stop();

    const second = await boot(path);
    const bank = await liveConsole(second, 'bank-1', ['bank']);
    const life = await liveConsole(second, 'life-1', ['life']);
    expect(bank.list).toContain(c.id);
    if (reloaded) {
      const history = await second.fastify.inject({ method: 'GET', url: `/api/v1/conversations/${c.id}/messages`, headers: c.headers });
      expect(history.statusCode, history.body).toBe(200);
    }
    await say(second, c, '保單怎麼查'); // the life team's now
    await life.news.next((m) => m.conversation.id === c.id && m.message.text === '回覆:保單怎麼查');
    await bank.gone.next((g) => g.conversationId === c.id);
    expect(bank.news.seen.filter((m) => m.conversation.id === c.id)).toEqual([]);
  });

  it('places a conversation begun before its group was kept by its messages, on the list and in what is pushed after', async () => {
    const path = databaseFile();
    const first = await boot(path);
    const c = await startConversation(first, { channel: 'web', customerId: 'browser-before-groups' });
    await say(first, c, '信用卡掉了');
    await first.stop();
    // As the migration that brought the column leaves a conversation from before it: not recorded.
    const db = new Database(path);
    db.prepare('UPDATE conversations SET topic_group = NULL WHERE id = ?').run(c.id);
    db.close();

    const second = await boot(path);
    const bank = await liveConsole(second, 'bank-1', ['bank']);
    const life = await liveConsole(second, 'life-1', ['life']);
    expect(bank.list).toContain(c.id);
    expect(life.list).not.toContain(c.id);
    await say(second, c, '???');
    await bank.news.next((m) => m.conversation.id === c.id && m.message.text === '回覆:???');
    expect((await second.store.getConversation(c.id))?.topicGroup).toBe('bank');
    const other = await startConversation(second, { channel: 'web', customerId: 'browser-before-groups-life' });
    await say(second, other, '保單怎麼查');
    await life.news.next((m) => m.conversation.id === other.id && m.message.text === '回覆:保單怎麼查');
    expect(life.news.seen.filter((m) => m.conversation.id === c.id)).toEqual([]);
  });
});
