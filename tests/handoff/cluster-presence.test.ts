import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAgentPresence } from '../../src/handoff/agent-presence.ts';
import { createClusterPresence, type ClusterPresence, type PresenceBus, type PresenceMessage } from '../../src/handoff/cluster-presence.ts';
import type { Agent } from '../../src/domain/agent.ts';

const agent = (id: string, groups: string[] = ['bank']): Agent => ({
  id, username: id, displayName: id, role: 'agent', groups, disabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', lastLoginAt: null,
});

/** Instances on one in-memory bus: a message reaches every other instance (not its sender), as serverSideEmit does. */
function network() {
  const members = new Map<string, (m: PresenceMessage) => void>();
  let down = new Set<string>();
  const bus = (instance: string): PresenceBus => ({
    publish: (m) => {
      if (down.has(instance)) return;
      for (const [other, deliver] of members) if (other !== instance && !down.has(other)) deliver(structuredClone(m));
    },
    subscribe: (listener) => {
      members.set(instance, listener);
      return () => members.delete(instance);
    },
  });
  return { bus, cut: (instance: string) => (down = new Set([...down, instance])) };
}

describe('presence across instances', () => {
  const GRACE = 60_000;
  let net: ReturnType<typeof network>;
  let made: ClusterPresence[];
  const instance = (name: string): { presence: ClusterPresence; departed: string[] } => {
    const presence = createClusterPresence(createAgentPresence({ graceMs: GRACE }), { instance: name, heartbeatMs: 10_000, ttlMs: 30_000 });
    presence.join(net.bus(name));
    const departed: string[] = [];
    presence.onDeparted((id) => departed.push(id));
    made.push(presence);
    return { presence, departed };
  };
  beforeEach(() => {
    vi.useFakeTimers();
    net = network();
    made = [];
  });
  afterEach(() => {
    for (const p of made) p.dispose();
    vi.useRealTimers();
  });

  it("counts an agent on duty at another instance, once however many consoles they have, and follows their status", () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    expect(a.presence.availableFor('bank')).toBe(1);
    expect(a.presence.availableFor('life')).toBe(0);
    expect(a.presence.isConnected('mei')).toBe(true);
    a.presence.connect(agent('mei'), 'a-1');
    expect(a.presence.availableFor('bank')).toBe(1);
    expect(a.presence.list()).toEqual([{ agent: agent('mei'), status: 'available', connections: 2 }]);
    a.presence.setStatus('mei', 'away');
    b.presence.setStatus('mei', 'away');
    expect(a.presence.availableFor('bank')).toBe(0);
    expect(a.presence.isAvailable('mei')).toBe(false);
    // An instance that starts later asks the others, and knows at once.
    const c = instance('c');
    expect(c.presence.isConnected('mei')).toBe(true);
  });

  it('keeps an agent whose console moved to another instance within the grace period, and their customers', () => {
    const a = instance('a');
    const b = instance('b');
    a.presence.connect(agent('mei'), 'a-1');
    a.presence.disconnect('a-1');
    vi.advanceTimersByTime(5_000);
    b.presence.connect(agent('mei'), 'b-1');
    vi.advanceTimersByTime(GRACE);
    expect([...a.departed, ...b.departed]).toEqual([]);
    // A restarted instance gives those holding conversations the grace period: one working elsewhere keeps them.
    a.presence.awaitReturn('mei');
    vi.advanceTimersByTime(GRACE + 1);
    expect(a.departed).toEqual([]);
  });

  it('lets the others release the customers of an agent who left, when their instance is gone too', () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    // B dies without a word: its snapshot expires at A, and A gives the agent the grace period.
    net.cut('b');
    vi.advanceTimersByTime(30_000 + 10_000);
    expect(a.presence.isConnected('mei')).toBe(false);
    expect(a.departed).toEqual([]);
    vi.advanceTimersByTime(GRACE);
    expect(a.departed).toEqual(['mei']);
  });

  it('starts the grace period everywhere when the agent closes their last console, and on a stopping instance at once', () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    b.presence.connect(agent('ming'), 'b-2');
    b.presence.disconnect('b-1');
    expect(a.presence.isConnected('mei')).toBe(false);
    vi.advanceTimersByTime(GRACE + 1);
    // Both instances decide; the store's conditional release lets one of them do it.
    expect(a.departed).toEqual(['mei']);
    expect(b.departed).toEqual(['mei']);
    b.presence.dispose();
    expect(a.presence.isConnected('ming')).toBe(false);
    vi.advanceTimersByTime(GRACE + 1);
    expect(a.departed).toEqual(['mei', 'ming']);
  });
});
