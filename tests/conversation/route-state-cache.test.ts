import { describe, it, expect } from 'vitest';
import { createRouteStateCache } from '../../src/conversation/route-state-cache.ts';
import type { Conversation } from '../../src/domain/conversation.ts';

const conversation = (id: string, over: Partial<Conversation> = {}): Conversation =>
  ({ id, state: 'bot', consecutiveFallbacks: 0, locale: 'zh-TW', ...over }) as Conversation;

describe('route state cache', () => {
  it('keeps the route state of conversations the bot holds and forgets the others', () => {
    const cache = createRouteStateCache(10);
    cache.remember(conversation('a', { consecutiveFallbacks: 2, locale: 'en' }));
    expect(cache.get('a')).toEqual({ consecutiveFallbacks: 2, locale: 'en' });
    cache.remember(conversation('a', { state: 'queued' }));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most its capacity, dropping the conversation seen longest ago', () => {
    const cache = createRouteStateCache(2);
    cache.remember(conversation('a'));
    cache.remember(conversation('b'));
    cache.remember(conversation('a')); // seen again: now the newest
    cache.remember(conversation('c'));
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map(Boolean)).toEqual([true, false, true]);
    expect(cache.size).toBe(2);
  });

  it('matches a state only against a conversation the bot holds with the same fallbacks and locale', () => {
    const cache = createRouteStateCache(2);
    const s = { consecutiveFallbacks: 1, locale: 'zh-TW' as const };
    expect(cache.matches(s, conversation('a', { consecutiveFallbacks: 1 }))).toBe(true);
    expect(cache.matches(s, conversation('a', { consecutiveFallbacks: 0 }))).toBe(false);
    expect(cache.matches(s, conversation('a', { consecutiveFallbacks: 1, locale: 'zh-CN' }))).toBe(false);
    expect(cache.matches(s, conversation('a', { consecutiveFallbacks: 1, state: 'agent' }))).toBe(false);
  });

  it('knows the last few customer message ids of a conversation, to tell a retry before it is stored', () => {
    const cache = createRouteStateCache(2);
    cache.noteClientMessage('a', 'm0'); // not a known conversation: nothing to note
    cache.remember(conversation('a'));
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) cache.noteClientMessage('a', m);
    expect(['m0', 'm1', 'm2', 'm5'].map((m) => cache.seenClientMessage('a', m))).toEqual([false, false, true, true]);
    cache.remember(conversation('a', { consecutiveFallbacks: 1 })); // a new state keeps them
    expect(cache.seenClientMessage('a', 'm5')).toBe(true);
  });
});
