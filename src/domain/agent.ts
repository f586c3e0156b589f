/** What a console account may do: serve customers (agent), label and retrain (trainer), or everything (admin). */
export type AgentRole = 'agent' | 'trainer' | 'admin';
export const AGENT_ROLES: readonly AgentRole[] = ['agent', 'trainer', 'admin'];

/** The queue group every agent works besides their own, for handoffs no domain claims (common topics, "a person please"). */
export const DEFAULT_GROUP = 'default';

/** A group name: lower-case letters, digits, `_` or `-`, as in the pack's domains (bank, life). */
export const GROUP_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/** A login name: lower-case, 2–32 characters. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,31}$/;

/** A person who signs in to the console. The password hash never leaves the store's credential call. */
export interface Agent {
  id: string;
  username: string;
  /** Shown to customers when the agent joins ("專員 小美 已加入對話"). */
  displayName: string;
  role: AgentRole;
  /** Queue groups (skills) the agent serves, besides the default group. */
  groups: string[];
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

/** A signed-in session; only the SHA-256 of its token is stored, so a copy of the database cannot sign anyone in. */
export interface AgentSession {
  tokenHash: string;
  agentId: string;
  createdAt: string;
  expiresAt: string;
}

/** True when the role may use the agent console (queue, claim, reply). */
export const canServeCustomers = (role: AgentRole): boolean => role === 'agent' || role === 'admin';

/** True when the role may use the trainer console. */
export const canTrain = (role: AgentRole): boolean => role === 'trainer' || role === 'admin';

/**
 * The queue groups an account works: its own groups plus the default group; null for an admin, who sees every
 * group. Trainers serve no queue.
 */
export function servedGroups(agent: Pick<Agent, 'role' | 'groups'>): string[] | null {
  if (agent.role === 'admin') return null;
  if (agent.role !== 'agent') return [];
  return [...new Set([DEFAULT_GROUP, ...agent.groups])];
}

/** True when the account works `group`'s queue. */
export function servesGroup(agent: Pick<Agent, 'role' | 'groups'>, group: string): boolean {
  const groups = servedGroups(agent);
  return groups === null || groups.includes(group);
}
