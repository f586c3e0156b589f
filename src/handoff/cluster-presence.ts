import { countAvailable, type AgentPresence, type AgentStatus, type OnlineAgent } from './agent-presence.ts';
import { createListeners } from '../listeners.ts';

/** What instances tell each other about the consoles connected to them. */
export type PresenceMessage =
  /** Everyone on duty at `instance` now; it holds until `ttlMs` passes without another (the instance died). */
  | { type: 'snapshot'; instance: string; agents: OnlineAgent[]; ttlMs: number; choices?: Record<string, Choice> }
  /** A new instance asks the others for their snapshots. */
  | { type: 'hello'; instance: string }
  /** An instance is stopping: its consoles are gone. */
  | { type: 'bye'; instance: string }
  /** An agent chose a status on a console at `instance`: it holds for their consoles everywhere (the newest choice wins). */
  | ({ type: 'status'; instance: string; agentId: string } & Choice)
  /** An agent signed out at `instance`: gone without a grace period, once their consoles everywhere have closed. */
  | { type: 'depart'; instance: string; agentId: string };

/**
 * An agent's status choice, versioned so that every instance keeps the same newest one whatever order messages came
 * in, or if one was missed (snapshots carry the choices again): a higher version wins, then the higher instance id.
 */
export interface Choice {
  status: AgentStatus;
  version: number;
  /** Where it was made: breaks ties between choices made at once on two instances. */
  by: string;
}
const newer = (a: Choice, b: Choice | undefined): boolean => !b || a.version > b.version || (a.version === b.version && a.by > b.by);

/** How instances reach each other (socket.io's serverSideEmit over Redis, in app.ts). Never delivers to the sender. */
export interface PresenceBus {
  publish(message: PresenceMessage): void;
  subscribe(listener: (message: PresenceMessage) => void): () => void;
  /**
   * Since when (on `now`'s clock) this instance has been hearing the others without a break; null while it cannot.
   * Silence from the others means they are gone only when this instance could have heard them.
   */
  healthySince(): number | null;
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
  /** A monotonic clock in ms (performance.now: a wall clock stepped back or forth would expire snapshots wrongly). */
  now?: () => number;
}

/** How long a sign-out elsewhere makes the agent's consoles here closing end their presence at once. */
const DEPARTING_MS = 10_000;

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
  const now = options.now ?? (() => performance.now());
  const remote = new Map<string, { agents: Map<string, OnlineAgent>; expiresAt: number; signature: string }>();
  const changes = createListeners<[]>();
  /** The status each agent last chose, on any instance. */
  const chosen = new Map<string, Choice>();
  /** Takes a choice heard from another instance if it is newer, and applies it to their consoles here. */
  const heardChoice = (agentId: string, choice: Choice): void => {
    if (!newer(choice, chosen.get(agentId))) return;
    chosen.set(agentId, choice);
    local.setStatus(agentId, choice.status);
  };
  /** Agents who signed out elsewhere, until when: their consoles closing here end their presence at once. */
  const departing = new Map<string, number>();
  /** Which agent each of this instance's consoles belongs to. */
  const consoles = new Map<string, string>();
  const departures = createListeners<[agentId: string]>();
  let bus: PresenceBus | null = null;
  let unsubscribe: (() => void) | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let heardSince: number | null = null;
  let disposed = false;

  const changed = (): void => changes.emit();
  const publish = (m: PresenceMessage): void => {
    if (!disposed) bus?.publish(m);
  };
  const snapshot = (): void => {
    const agents = local.list();
    const choices: Record<string, Choice> = {};
    for (const a of agents) {
      const c = chosen.get(a.agent.id);
      if (c) choices[a.agent.id] = c;
    }
    publish({ type: 'snapshot', instance: options.instance, agents, ttlMs, choices });
  };
  const connectedElsewhere = (agentId: string): boolean => {
    for (const r of remote.values()) if (r.agents.has(agentId)) return true;
    return false;
  };
  /** Agents who were on duty at another instance and are no longer on duty anywhere: they get the grace period. */
  const awaitVanished = (before: Iterable<string>): void => {
    for (const id of before) {
      if (local.isConnected(id) || connectedElsewhere(id)) continue;
      // Signed out (heard before their consoles' instance said they had gone): departed now, as there.
      if ((departing.get(id) ?? 0) > now()) local.depart(id);
      else local.awaitReturn(id);
    }
  };
  const signatureOf = (agents: OnlineAgent[]): string =>
    agents.map((a) => `${a.agent.id}:${a.status}:${a.connections}:${a.agent.role}:${a.agent.groups.join(',')}`).sort().join(';');
  /** Replaces (or, with null, drops) an instance's snapshot; listeners hear of it only when who is on duty changed. */
  const setRemote = (instance: string, agents: OnlineAgent[] | null, ttl: number): void => {
    const previous = remote.get(instance);
    const before = [...(previous?.agents.keys() ?? [])];
    const signature = agents === null ? '' : signatureOf(agents);
    if (agents === null) remote.delete(instance);
    else remote.set(instance, { agents: new Map(agents.map((a) => [a.agent.id, a])), expiresAt: now() + ttl, signature });
    // On duty there now: a grace period this instance started for them (they left here, or it restarted) is over.
    for (const a of agents ?? []) local.cancelGrace(a.agent.id);
    awaitVanished(before);
    if ((previous?.signature ?? null) !== (agents === null ? null : signature)) changed();
  };
  /**
   * Drops the snapshots of instances not heard from for their ttl, but only once this instance has itself been
   * hearing for that long: while its own connection is down (or just back), silence says nothing about the others,
   * and taking it for their agents' departure would put those agents' customers back in the queue.
   */
  const expire = (): void => {
    const since = bus?.healthySince() ?? null;
    const t = now();
    if (since === null || t - since < ttlMs) return;
    for (const [instance, r] of remote) if (r.expiresAt < t) setRemote(instance, null, 0);
  };
  const onMessage = (m: PresenceMessage): void => {
    if (disposed || m.instance === options.instance) return;
    if (m.type === 'hello') snapshot();
    else if (m.type === 'bye') setRemote(m.instance, null, 0);
    else if (m.type === 'depart') {
      // Their consoles here are being closed by the same sign-out (the session's room): gone as soon as they are.
      departing.set(m.agentId, now() + DEPARTING_MS);
      local.depart(m.agentId);
    } else if (m.type === 'status') {
      heardChoice(m.agentId, { status: m.status, version: m.version, by: m.by });
    } else {
      for (const [agentId, choice] of Object.entries(m.choices ?? {})) heardChoice(agentId, choice);
      setRemote(m.instance, m.agents, m.ttlMs);
    }
  };
  const tick = (): void => {
    // Back after a break: ask everyone again, rather than wait up to a heartbeat for each of them.
    const since = bus?.healthySince() ?? null;
    if (since !== null && since !== heardSince) publish({ type: 'hello', instance: options.instance });
    heardSince = since;
    expire();
    for (const [agentId, until] of departing) if (until <= now()) departing.delete(agentId);
    snapshot();
  };

  local.onChange(() => {
    if (disposed) return;
    snapshot();
    changed();
  });
  // This instance's grace period ran out: departed, unless a console of theirs is open at another instance.
  local.onDeparted((agentId) => {
    if (disposed || connectedElsewhere(agentId)) return;
    chosen.delete(agentId);
    departures.emit(agentId);
  });

  /** Everyone on duty anywhere, once each: their consoles added up, available if any instance says so. */
  const everyone = (): Map<string, OnlineAgent> => {
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
      heardSince = b.healthySince();
      unsubscribe = b.subscribe(onMessage);
      publish({ type: 'hello', instance: options.instance });
      snapshot();
      heartbeat = setInterval(tick, heartbeatMs);
      heartbeat.unref();
    },
    connect(agent, connectionId) {
      // A console of theirs open elsewhere, or closed there within the grace period (a reload that the load balancer
      // sent here): this one takes the status they chose, as a second console on one instance does. The choice is
      // forgotten once they have departed, so an agent coming on duty afresh starts available.
      consoles.set(connectionId, agent.id);
      departing.delete(agent.id); // signed in again
      // What was chosen, as heard (an instance started since then hears it with the others' snapshots); given to
      // connect, so that the snapshot it sends never shows them available in between.
      const choice = chosen.get(agent.id);
      local.connect(agent, connectionId, choice?.status);
      if (choice) local.setStatus(agent.id, choice.status); // a console already open here
    },
    disconnect(connectionId, closing) {
      const agentId = consoles.get(connectionId);
      consoles.delete(connectionId);
      local.disconnect(connectionId);
      // Only a console the sign-out itself closed: one of another session of theirs that drops meanwhile (a network
      // blip) still gets the grace period.
      const signedOut = closing?.sessionEnded === true && agentId !== undefined && (departing.get(agentId) ?? 0) > now();
      if (signedOut && !local.isConnected(agentId)) local.depart(agentId);
    },
    setStatus(agentId, status: AgentStatus) {
      // By the clock, not counted from the last choice heard: after one is forgotten (they departed), a new choice
      // must still beat an old one another instance may hold.
      const choice: Choice = { status, version: Math.max(Date.now(), (chosen.get(agentId)?.version ?? 0) + 1), by: options.instance };
      chosen.set(agentId, choice);
      local.setStatus(agentId, status);
      publish({ type: 'status', instance: options.instance, agentId, ...choice });
    },
    statusOf: (agentId) => local.statusOf(agentId),
    availableFor: (group) => countAvailable(everyone().values(), group),
    isAvailable: (agentId) => everyone().get(agentId)?.status === 'available',
    isConnected: (agentId) => local.isConnected(agentId) || connectedElsewhere(agentId),
    list: () => [...everyone().values()],
    depart(agentId) {
      local.depart(agentId);
      publish({ type: 'depart', instance: options.instance, agentId });
    },
    awaitReturn: (agentId) => local.awaitReturn(agentId),
    cancelGrace: (agentId) => local.cancelGrace(agentId),
    onChange: changes.add,
    onDeparted: departures.add,
    // Every instance applies every choice to its own consoles (heardChoice), so its own presence tells them.
    onStatus: (listener) => local.onStatus(listener),
    dispose() {
      if (disposed) return;
      if (heartbeat) clearInterval(heartbeat);
      publish({ type: 'bye', instance: options.instance });
      // Consoles closing as the server stops must not send snapshots after the bye (the others would believe them).
      disposed = true;
      unsubscribe?.();
      bus = null;
      local.dispose();
    },
  };
}
