import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { Store } from '../../src/store/store.ts';
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
      expect(c).toMatchObject({ channel: 'web', customerId: 'browser-1', state: 'bot', locale: 'zh-TW', closedAt: null, consecutiveFallbacks: 0, rating: null });
      expect(await store.getConversation(c.id)).toEqual(c);
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
    });

    it('does not store a customer message twice for the same client message id', async () => {
      const c = await store.createConversation({ channel: 'web', customerId: 'u', locale: 'zh-TW' });
      const a = await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'same' });
      const b = await store.appendMessage({ conversationId: c.id, author: 'customer', text: 'hi', clientMessageId: 'same' });
      expect(a.duplicate).toBe(false);
      expect(b).toEqual({ message: a.message, duplicate: true });
      expect(await store.listMessages(c.id)).toHaveLength(1);
      // The same client id in another conversation is another message.
      const other = await store.createConversation({ channel: 'web', customerId: 'v', locale: 'zh-TW' });
      expect((await store.appendMessage({ conversationId: other.id, author: 'customer', text: 'hi', clientMessageId: 'same' })).duplicate).toBe(false);
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
      expect(await store.countConversationsByState()).toMatchObject({ closed: 1, bot: 0 });
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

    if (reopen) {
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
