import { canServeCustomers, servesGroup } from '../domain/agent.ts';
import type { AgentPresence, AgentStatus, OnlineAgent } from './agent-presence.ts';

/** What instances tell each other about the consoles connected to them. */
export type PresenceMessage =
  /** Everyone on duty at `instance` now; it holds until `ttlMs` passes without another (the instance died). */
  | { type: 'snapshot'; instance: string; agents: OnlineAgent[]; ttlMs: number }
  /** A new instance asks the others for their snapshots. */
  | { type: 'hello'; instance: string }
  /** An instance is stopping: its consoles are gone. */
  | { type: 'bye'; instance: string };

/** How instances reach each other (socket.io's serverSideEmit over Redis, in app.ts). Never delivers to the sender. */
export interface PresenceBus {
  publish(message: PresenceMessage): void;
  subscribe(listener: (message: PresenceMessage) => void): () => void;
}

export interface ClusterPresence extends AgentPresence {
  /** Starts telling the other instances, and hearing from them (the bus exists once socket.io does). */
  join(bus: PresenceBus): void;
}

export interface ClusterPresenceOptions {
  /** This instance's id, unique among the running ones. */
  instance: string;
  /** How often the snapshot is sent again, which also keeps it from expiring elsewhere. */
  heartbeatMs?: number;
  /** How long another instance's snapshot holds without a heartbeat. */
  ttlMs?: number;
  now?: () => number;
}

/**
 * Who is on duty across several instances: this instance's consoles (`local`) plus the snapshots the others send.
 * An agent counts once however many instances they have consoles on, and has departed (their customers go back to
 * the queue) only when no instance has a console of theirs: a console that reconnects to another instance, or an
 * instance that starts while the agent works on another, costs nobody their customers. An agent who vanishes from
 * another instance's snapshot (they closed the console there, or the instance died) gets the grace period here as
 * well, so some instance releases their customers even if the one they were on is gone; the store's conditional
 * release lets exactly one instance do it.
 */
export function createClusterPresence(local: AgentPresence, options: ClusterPresenceOptions): ClusterPresence {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const ttlMs = options.ttlMs ?? 3 * heartbeatMs;
  const now = options.now ?? Date.now;
  const remote = new Map<string, { agents: Map<string, OnlineAgent>; expiresAt: number }>();
  const listeners = new Set<() => void>();
  const departedListeners = new Set<(agentId: string) => void>();
  let bus: PresenceBus | null = null;
  let unsubscribe: (() => void) | null = null;
  let heartbeat: NodeJS.Timeout | null = null;

  const changed = (): void => {
    for (const l of listeners) l();
  };
  const publish = (m: PresenceMessage): void => bus?.publish(m);
  const snapshot = (): void => publish({ type: 'snapshot', instance: options.instance, agents: local.list(), ttlMs });
  const remoteEntries = function* (agentId: string): Generator<OnlineAgent> {
    const t = now();
    for (const r of remote.values()) {
      if (r.expiresAt < t) continue;
      const a = r.agents.get(agentId);
      if (a) yield a;
    }
  };
  const connectedElsewhere = (agentId: string): boolean => !remoteEntries(agentId).next().done;
  /** Agents who were on duty at another instance and are no longer on duty anywhere: they get the grace period. */
  const awaitVanished = (before: Iterable<string>): void => {
    for (const id of before) if (!local.isConnected(id) && !connectedElsewhere(id)) local.awaitReturn(id);
  };
  /** Replaces (or, with null, drops) an instance's snapshot. */
  const setRemote = (instance: string, agents: OnlineAgent[] | null, ttl: number): void => {
    const before = [...(remote.get(instance)?.agents.keys() ?? [])];
    if (agents === null) remote.delete(instance);
    else remote.set(instance, { agents: new Map(agents.map((a) => [a.agent.id, a])), expiresAt: now() + ttl });
    awaitVanished(before);
    changed();
  };
  const expire = (): void => {
    const t = now();
    for (const [instance, r] of remote) if (r.expiresAt < t) setRemote(instance, null, 0);
  };
  const onMessage = (m: PresenceMessage): void => {
    if (m.instance === options.instance) return;
    if (m.type === 'hello') snapshot();
    else if (m.type === 'bye') setRemote(m.instance, null, 0);
    else setRemote(m.instance, m.agents, m.ttlMs);
  };

  local.onChange(() => {
    snapshot();
    changed();
  });
  // This instance's grace period ran out: departed, unless a console of theirs is open at another instance.
  local.onDeparted((agentId) => {
    if (connectedElsewhere(agentId)) return;
    for (const l of departedListeners) l(agentId);
  });

  /** Everyone on duty anywhere, once each: their consoles added up, available if any instance says so. */
  const everyone = (): Map<string, OnlineAgent> => {
    expire();
    const all = new Map<string, OnlineAgent>();
    const add = (a: OnlineAgent): void => {
      const seen = all.get(a.agent.id);
      if (!seen) return void all.set(a.agent.id, { ...a });
      seen.connections += a.connections;
      if (a.status === 'available') seen.status = 'available';
    };
    for (const a of local.list()) add(a);
    for (const r of remote.values()) for (const a of r.agents.values()) add(a);
    return all;
  };

  return {
    join(b) {
      bus = b;
      unsubscribe = b.subscribe(onMessage);
      publish({ type: 'hello', instance: options.instance });
      snapshot();
      heartbeat = setInterval(() => {
        expire();
        snapshot();
      }, heartbeatMs);
      heartbeat.unref();
    },
    connect: (agent, connectionId) => local.connect(agent, connectionId),
    disconnect: (connectionId) => local.disconnect(connectionId),
    setStatus: (agentId, status: AgentStatus) => local.setStatus(agentId, status),
    availableFor(group) {
      let n = 0;
      for (const e of everyone().values()) if (e.status === 'available' && canServeCustomers(e.agent.role) && servesGroup(e.agent, group)) n++;
      return n;
    },
    isAvailable: (agentId) => everyone().get(agentId)?.status === 'available',
    isConnected: (agentId) => local.isConnected(agentId) || connectedElsewhere(agentId),
    list: () => [...everyone().values()],
    depart: (agentId) => local.depart(agentId),
    awaitReturn: (agentId) => local.awaitReturn(agentId),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onDeparted(listener) {
      departedListeners.add(listener);
      return () => departedListeners.delete(listener);
    },
    dispose() {
      if (heartbeat) clearInterval(heartbeat);
      publish({ type: 'bye', instance: options.instance });
      unsubscribe?.();
      local.dispose();
    },
  };
}
