import type { Conversation } from '../domain/conversation.ts';
import type { Locale } from '../domain/types.ts';

/** What routing a customer message needs of its conversation. */
export interface KnownRouteState {
  consecutiveFallbacks: number;
  locale: Locale;
}

/**
 * The route state of conversations the bot holds, as this process last saw them. It is only ever a guess: a turn
 * routes with it before the customer's message is stored, and the answer is stored with the message only if the
 * stored conversation agrees (another instance, an agent or a restart may have changed it). A guess that is wrong
 * costs one routing, never a wrong answer.
 */
export interface RouteStateCache {
  /** Records the conversation as the store returned it; one the bot no longer holds is forgotten. */
  remember(conversation: Conversation): void;
  get(id: string): KnownRouteState | undefined;
  /** Drops a conversation found closed or gone. */
  forget(id: string): void;
  /** Notes a customer message id of the conversation, so that a retry of it is known for one before it is stored. */
  noteClientMessage(id: string, clientMessageId: string): void;
  /** True when `clientMessageId` is one of the conversation's last few customer message ids. */
  seenClientMessage(id: string, clientMessageId: string): boolean;
  /** True when `state` is what routing `conversation` would use now. */
  matches(state: KnownRouteState, conversation: Conversation): boolean;
  readonly size: number;
}

/** Client message ids kept per conversation: a client retries its last message or two, not older ones. */
const RECENT_CLIENT_IDS = 4;

interface Entry {
  state: KnownRouteState;
  recent: string[];
}

/** A cache of at most `capacity` conversations; the least recently seen go first. */
export function createRouteStateCache(capacity: number): RouteStateCache {
  // A Map iterates in insertion order: deleting and re-inserting on every sighting keeps the oldest first.
  const entries = new Map<string, Entry>();
  return {
    remember(c) {
      const before = entries.get(c.id);
      entries.delete(c.id);
      if (c.state !== 'bot') return;
      entries.set(c.id, { state: { consecutiveFallbacks: c.consecutiveFallbacks, locale: c.locale }, recent: before?.recent ?? [] });
      if (entries.size > capacity) entries.delete(entries.keys().next().value!);
    },
    get: (id) => entries.get(id)?.state,
    forget: (id) => void entries.delete(id),
    noteClientMessage(id, clientMessageId) {
      const e = entries.get(id);
      if (!e || e.recent.includes(clientMessageId)) return;
      e.recent.push(clientMessageId);
      if (e.recent.length > RECENT_CLIENT_IDS) e.recent.shift();
    },
    seenClientMessage: (id, clientMessageId) => entries.get(id)?.recent.includes(clientMessageId) ?? false,
    matches: (s, c) => c.state === 'bot' && s.consecutiveFallbacks === c.consecutiveFallbacks && s.locale === c.locale,
    get size() {
      return entries.size;
    },
  };
}
