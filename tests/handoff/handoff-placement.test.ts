import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import type { StoredOutcome } from '../../src/domain/conversation.ts';
import { createHandoffPlacement } from '../../src/handoff/handoff-placement.ts';

const DOMAINS: Record<string, string> = { 'card.lost': 'bank', 'policy.info': 'life', 'fraud.report': 'bank', 'complaint.file': 'common', 'human.agent': 'common' };

const answered = (topic: string): StoredOutcome => ({
  outcome: 'answer', topic, brain: 'faq', confidence: 0.9, candidates: [], entities: [], needsVerification: false,
  trace: { normalised: '', faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
});

describe('handoff placement', () => {
  let store: Store;
  beforeEach(() => {
    store = openSqliteStore(':memory:');
  });
  afterEach(() => store.close());
  const place = createHandoffPlacement({
    store: { latestMessages: (id, n) => store.latestMessages(id, n) }, topicDomain: (t) => DOMAINS[t] ?? null,
    priorityTopics: { 'fraud.report': 2, 'complaint.file': 1 }, sharedDomains: ['common'],
  });

  it("files a handoff under its topic's domain with the topic's priority", async () => {
    const conversation = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    expect(await place({ conversation, topic: 'fraud.report' })).toEqual({ group: 'bank', priority: 2 });
    expect(await place({ conversation, topic: 'complaint.file' })).toEqual({ group: 'default', priority: 1 });
    expect(await place({ conversation, topic: 'unknown.topic' })).toEqual({ group: 'default', priority: 0 });
  });

  it("uses the conversation's own group, kept with it, when the handoff names none", async () => {
    const read: string[] = [];
    const placeKept = createHandoffPlacement({
      store: { latestMessages: (id, n) => (read.push(id), store.latestMessages(id, n)) }, topicDomain: (t) => DOMAINS[t] ?? null,
      priorityTopics: { 'fraud.report': 2 }, sharedDomains: ['common'],
    });
    const conversation = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    expect(await placeKept({ conversation, topic: null })).toEqual({ group: 'default', priority: 0 });
    const { conversation: life } = await store.appendMessage({ conversationId: conversation.id, author: 'bot', text: 'b', outcome: answered('policy.info'), topicGroup: 'life' });
    expect(await placeKept({ conversation: life, topic: null })).toEqual({ group: 'life', priority: 0 });
    expect(await placeKept({ conversation: life, topic: 'human.agent' })).toEqual({ group: 'life', priority: 0 });
    expect(await placeKept({ conversation: life, topic: 'fraud.report' })).toEqual({ group: 'bank', priority: 2 });
    expect(read).toEqual([]); // nothing read: the group came with the conversation
  });

  it('uses the latest answered topic with a domain of its own for a conversation begun before its group was kept', async () => {
    const created = await store.createConversation({ channel: 'web', customerId: 'c', locale: 'zh-TW' });
    const conversation = { ...created, topicGroup: null };
    expect(await place({ conversation, topic: null })).toEqual({ group: 'default', priority: 0 });
    await store.appendMessage({ conversationId: conversation.id, author: 'bot', text: 'a', outcome: answered('card.lost') });
    await store.appendMessage({ conversationId: conversation.id, author: 'bot', text: 'b', outcome: answered('policy.info') });
    await store.appendMessage({ conversationId: conversation.id, author: 'bot', text: 'c', outcome: answered('complaint.file') });
    expect(await place({ conversation, topic: null })).toEqual({ group: 'life', priority: 0 });
    expect(await place({ conversation, topic: 'human.agent' })).toEqual({ group: 'life', priority: 0 });
  });
});
