import { DEFAULT_GROUP, GROUP_PATTERN } from '../domain/agent.ts';
import type { HandoffPlacement, HandoffRequest } from '../domain/handoff.ts';
import type { Store } from '../store/store.ts';

export interface HandoffPlacementOptions {
  store: Pick<Store, 'latestMessages'>;
  /** The pack domain of a topic (bank, life, common), or null when the topic is unknown (or no pack is loaded yet). */
  topicDomain: (topic: string) => string | null;
  /** Priority per topic (higher first); others get 0. */
  priorityTopics: Readonly<Record<string, number>>;
  /** Domains with no group of their own (common): their handoffs wait in the default group. */
  sharedDomains: readonly string[];
}

/** The group a topic's questions belong to (its pack domain), or null for a shared domain or an unknown topic. */
export function topicGroups(opts: Pick<HandoffPlacementOptions, 'topicDomain' | 'sharedDomains'>): (topic: string | null | undefined) => string | null {
  const shared = new Set(opts.sharedDomains);
  return (topic) => {
    if (!topic) return null;
    const domain = opts.topicDomain(topic);
    return domain && !shared.has(domain) && GROUP_PATTERN.test(domain) ? domain : null;
  };
}

// How far back to look for what a conversation begun before its group was kept is about.
const HISTORY = 30;

/**
 * Where a handoff waits and how urgently: the group is the topic's pack domain (bank, life), and when the topic
 * says nothing (human.agent, fallbacks in a row, the button) the conversation's own (Conversation.topicGroup: that of
 * its latest answer with a group, or the default group), since "a person please" after three card questions is a
 * card question. The same group the live list shows it in, read with the conversation; only one begun before that
 * was kept is looked up, in its latest messages. Priority comes from the topic alone (fraud.report and
 * complaint.file by default).
 */
export function createHandoffPlacement(opts: HandoffPlacementOptions): (request: Pick<HandoffRequest, 'conversation' | 'topic'>) => Promise<HandoffPlacement> {
  const groupOf = topicGroups(opts);
  return async ({ conversation, topic }) => {
    const priority = topic ? (opts.priorityTopics[topic] ?? 0) : 0;
    let group = groupOf(topic) ?? conversation.topicGroup;
    if (!group) {
      const recent = await opts.store.latestMessages(conversation.id, HISTORY);
      for (let i = recent.length - 1; i >= 0 && !group; i--) group = groupOf(recent[i]?.outcome?.topic);
    }
    return { group: group ?? DEFAULT_GROUP, priority };
  };
}
