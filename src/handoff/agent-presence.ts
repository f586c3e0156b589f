import type { Agent } from '../domain/agent.ts';
import { canServeCustomers, servesGroup } from '../domain/agent.ts';
import { createListeners } from '../listeners.ts';

/** available: takes new customers; away: console open but not taking new ones. */
export type AgentStatus = 'available' | 'away';

export interface OnlineAgent {
  agent: Agent;
  status: AgentStatus;
  connections: number;
}

/**
 * Who is on duty: an agent is online while at least one console (an /agent socket) is connected. This process's
 * consoles; with several instances, cluster-presence.ts adds up every instance's behind this same interface.
 *
 * An agent whose last console closes is off duty at once (the queue stops counting them), but has gone only when no
 * console comes back within the grace period (a reload or a network blip must not cost them their customers); then
 * `onDeparted` listeners hear of it. Signing out departs at once.
 */
export interface AgentPresence {
  /**
   * A console opened. `status`: what the agent's first console here starts with (the cluster passes the status they
   * chose on another instance); by default the one they had when their console here closed within the grace
   * period, else available.
   */
  connect(agent: Agent, connectionId: string, status?: AgentStatus): void;
  /** A console closed; `sessionEnded` when the server closed it because its sign-in session ended (a sign-out). */
  disconnect(connectionId: string, options?: { sessionEnded?: boolean }): void;
  setStatus(agentId: string, status: AgentStatus): void;
  /** The status the agent's consoles here show; null when none is open here. */
  statusOf(agentId: string): AgentStatus | null;
  /** Agents taking new customers of `group`. */
  availableFor(group: string): number;
  /** True when the agent has a console open and is not away. */
  isAvailable(agentId: string): boolean;
  /** True when the agent has a console open (available or away). */
  isConnected(agentId: string): boolean;
  list(): OnlineAgent[];
  /** The agent signed out: unless a console of theirs is still open, they have departed now, without the grace period. */
  depart(agentId: string): void;
  /**
   * Starts the grace period for an agent with no console open who may still come back: after a restart, for those
   * who hold conversations. Does nothing while one is open or the period already runs.
   */
  awaitReturn(agentId: string): void;
  /** Stops a grace period running for the agent (they are on duty at another instance). */
  cancelGrace(agentId: string): void;
  /** Called after anyone comes, goes or changes status. */
  onChange(listener: () => void): () => void;
  /** Called with the agent's id when they have gone for good (grace period over, or signed out). */
  onDeparted(listener: (agentId: string) => void): () => void;
  /** Called when the status of an agent with a console open here changed (to show it on all their consoles here). */
  onStatus(listener: (agentId: string, status: AgentStatus) => void): () => void;
  /** Cancels the grace periods running (at shutdown). */
  dispose(): void;
}

export interface AgentPresenceOptions {
  /** How long an agent with no console open may take to come back before they count as gone. */
  graceMs: number;
}

/** Agents among `online` taking new customers of `group` (available, serving customers, in that group). */
export function countAvailable(online: Iterable<Pick<OnlineAgent, 'agent' | 'status'>>, group: string): number {
  let n = 0;
  for (const e of online) if (e.status === 'available' && canServeCustomers(e.agent.role) && servesGroup(e.agent, group)) n++;
  return n;
}

export function createAgentPresence(options: AgentPresenceOptions): AgentPresence {
  const byAgent = new Map<string, { agent: Agent; status: AgentStatus; connections: Set<string> }>();
  const connectionAgent = new Map<string, string>();
  const changes = createListeners<[]>();
  const departures = createListeners<[agentId: string]>();
  const statuses = createListeners<[agentId: string, status: AgentStatus]>();
  const graceTimers = new Map<string, NodeJS.Timeout>();
  // An agent who stepped away and whose console reloads (or whose network blips) is still away when it is back:
  // otherwise the reload alone would start sending them customers. Kept for the grace period, then forgotten (a new
  // sign-in starts available).
  const awayDuringGrace = new Set<string>();
  const changed = (): void => changes.emit();
  const departed = (agentId: string): void => {
    clearTimeout(graceTimers.get(agentId));
    graceTimers.delete(agentId);
    awayDuringGrace.delete(agentId);
    departures.emit(agentId);
  };
  const startGrace = (agentId: string): void => {
    if (graceTimers.has(agentId) || byAgent.has(agentId)) return;
    const timer = setTimeout(() => {
      graceTimers.delete(agentId);
      if (!byAgent.has(agentId)) departed(agentId);
    }, options.graceMs);
    // A pending grace period never keeps the process alive (shutdown, tests).
    timer.unref();
    graceTimers.set(agentId, timer);
  };
  return {
    connect(agent, connectionId, initial) {
      clearTimeout(graceTimers.get(agent.id));
      graceTimers.delete(agent.id);
      const kept: AgentStatus = awayDuringGrace.delete(agent.id) ? 'away' : 'available';
      const entry = byAgent.get(agent.id) ?? { agent, status: initial ?? kept, connections: new Set<string>() };
      entry.agent = agent;
      entry.connections.add(connectionId);
      byAgent.set(agent.id, entry);
      connectionAgent.set(connectionId, agent.id);
      changed();
    },
    disconnect(connectionId) {
      const agentId = connectionAgent.get(connectionId);
      if (agentId === undefined) return;
      connectionAgent.delete(connectionId);
      const entry = byAgent.get(agentId);
      entry?.connections.delete(connectionId);
      if (entry && entry.connections.size === 0) {
        byAgent.delete(agentId);
        if (entry.status === 'away') awayDuringGrace.add(agentId);
        startGrace(agentId);
      }
      changed();
    },
    setStatus(agentId, status) {
      const entry = byAgent.get(agentId);
      if (!entry || entry.status === status) return;
      entry.status = status;
      statuses.emit(agentId, status);
      changed();
    },
    statusOf: (agentId) => byAgent.get(agentId)?.status ?? null,
    availableFor: (group) => countAvailable(byAgent.values(), group),
    isAvailable(agentId) {
      return byAgent.get(agentId)?.status === 'available';
    },
    isConnected(agentId) {
      return byAgent.has(agentId);
    },
    list() {
      return [...byAgent.values()].map((e) => ({ agent: e.agent, status: e.status, connections: e.connections.size }));
    },
    depart(agentId) {
      if (!byAgent.has(agentId)) departed(agentId);
    },
    awaitReturn: startGrace,
    cancelGrace(agentId) {
      clearTimeout(graceTimers.get(agentId));
      graceTimers.delete(agentId);
      awayDuringGrace.delete(agentId);
    },
    onChange: changes.add,
    onDeparted: departures.add,
    onStatus: statuses.add,
    dispose() {
      for (const t of graceTimers.values()) clearTimeout(t);
      graceTimers.clear();
      awayDuringGrace.clear();
    },
  };
}
