import type { Agent } from '../domain/agent.ts';
import { canServeCustomers, servesGroup } from '../domain/agent.ts';

/** available: takes new customers; away: console open but not taking new ones. */
export type AgentStatus = 'available' | 'away';

export interface OnlineAgent {
  agent: Agent;
  status: AgentStatus;
  connections: number;
}

/**
 * Who is on duty: an agent is online while at least one console (an /agent socket) is connected. In-process only,
 * like the sockets it counts; several server instances would keep it in a shared store behind this interface.
 */
export interface AgentPresence {
  connect(agent: Agent, connectionId: string): void;
  disconnect(connectionId: string): void;
  setStatus(agentId: string, status: AgentStatus): void;
  /** Agents taking new customers of `group`. */
  availableFor(group: string): number;
  /** True when the agent has a console open and is not away. */
  isAvailable(agentId: string): boolean;
  list(): OnlineAgent[];
  /** Called after anyone comes, goes or changes status. */
  onChange(listener: () => void): () => void;
}

export function createAgentPresence(): AgentPresence {
  const byAgent = new Map<string, { agent: Agent; status: AgentStatus; connections: Set<string> }>();
  const connectionAgent = new Map<string, string>();
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const l of listeners) l();
  };
  return {
    connect(agent, connectionId) {
      const entry = byAgent.get(agent.id) ?? { agent, status: 'available' as AgentStatus, connections: new Set<string>() };
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
      if (entry && entry.connections.size === 0) byAgent.delete(agentId);
      changed();
    },
    setStatus(agentId, status) {
      const entry = byAgent.get(agentId);
      if (!entry || entry.status === status) return;
      entry.status = status;
      changed();
    },
    availableFor(group) {
      let n = 0;
      for (const e of byAgent.values()) if (e.status === 'available' && canServeCustomers(e.agent.role) && servesGroup(e.agent, group)) n++;
      return n;
    },
    isAvailable(agentId) {
      return byAgent.get(agentId)?.status === 'available';
    },
    list() {
      return [...byAgent.values()].map((e) => ({ agent: e.agent, status: e.status, connections: e.connections.size }));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
