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
    healthySince: () => (down.has(instance) ? null : (healthy.get(instance) ?? 0)),
  });
  const healthy = new Map<string, number>();
  return {
    bus,
    /** The instance's connection is gone: it neither sends nor hears. */
    cut: (instance: string) => (down = new Set([...down, instance])),
    /** Its connection is back (at `at`, on the presences' clock). */
    restore: (instance: string, at: number) => {
      down = new Set([...down].filter((i) => i !== instance));
      healthy.set(instance, at);
    },
  };
}

describe('presence across instances', () => {
  const GRACE = 60_000;
  let net: ReturnType<typeof network>;
  let made: ClusterPresence[];
  const instance = (name: string): { presence: ClusterPresence; departed: string[] } => {
    const presence = createClusterPresence(createAgentPresence({ graceMs: GRACE }), { instance: name, heartbeatMs: 10_000, ttlMs: 30_000, now: () => Date.now() });
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

  it('counts an agent on duty at another instance, once however many consoles they have, available while any console of theirs is', () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    expect(a.presence.availableFor('bank')).toBe(1);
    expect(a.presence.availableFor('life')).toBe(0);
    expect(a.presence.isConnected('mei')).toBe(true);
    a.presence.connect(agent('mei'), 'a-1');
    expect(a.presence.availableFor('bank')).toBe(1);
    expect(a.presence.list()).toEqual([{ agent: agent('mei'), status: 'available', connections: 2 }]);
    // Away on one console is away on all of them, wherever they are connected.
    a.presence.setStatus('mei', 'away');
    expect(a.presence.availableFor('bank')).toBe(0);
    expect(b.presence.availableFor('bank')).toBe(0);
    expect(a.presence.isAvailable('mei')).toBe(false);
    // A further console of theirs, on a third instance, opens away too; back to available from there counts everywhere.
    const d = instance('d');
    d.presence.connect(agent('mei'), 'd-1');
    expect(d.presence.isAvailable('mei')).toBe(false);
    expect(b.presence.availableFor('bank')).toBe(0);
    d.presence.setStatus('mei', 'available');
    expect(a.presence.availableFor('bank')).toBe(1);
    expect(b.presence.isAvailable('mei')).toBe(true);
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
    net.restore('a', Date.now());
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

  it("takes silence for nothing while its own connection is down or just back: an outage releases nobody's customers", () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    // A loses Redis for 48 s: it hears nothing from B (which still has the agent), and must not conclude B is gone.
    net.cut('a');
    vi.advanceTimersByTime(48_000);
    net.restore('a', Date.now());
    expect(a.presence.isConnected('mei')).toBe(true);
    vi.advanceTimersByTime(GRACE * 2);
    expect([...a.departed, ...b.departed]).toEqual([]);
    expect(a.presence.availableFor('bank')).toBe(1);
  });

  it('cancels a grace period it started once the agent shows up at another instance, so a later blip is not cut short', () => {
    const a = instance('a');
    const b = instance('b');
    const c = instance('c');
    net.restore('b', Date.now());
    net.restore('c', Date.now());
    a.presence.connect(agent('mei'), 'a-1');
    a.presence.disconnect('a-1'); // B and C start the grace period too
    vi.advanceTimersByTime(20);
    a.presence.connect(agent('mei'), 'a-2');
    vi.advanceTimersByTime(GRACE - 100);
    a.presence.disconnect('a-2'); // a second blip, near the end of the first grace period
    vi.advanceTimersByTime(200);
    a.presence.connect(agent('mei'), 'a-3'); // back within the second one
    vi.advanceTimersByTime(GRACE * 2);
    expect([...a.departed, ...b.departed, ...c.departed]).toEqual([]);
  });

  it('tells its listeners only when who is on duty changed, not at every heartbeat', () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    let changes = 0;
    a.presence.onChange(() => changes++);
    vi.advanceTimersByTime(10 * 10_000);
    expect(changes).toBe(0);
    b.presence.setStatus('mei', 'away');
    expect(changes).toBe(1);
  });

  it('sends nothing after its bye, though consoles close as the server stops', () => {
    const a = instance('a');
    const b = instance('b');
    b.presence.connect(agent('mei'), 'b-1');
    b.presence.connect(agent('ming'), 'b-2');
    b.presence.dispose();
    b.presence.disconnect('b-1'); // io.close() comes after dispose in the app
    expect(a.presence.list()).toEqual([]);
  });

  it('lets an agent who signed out on one instance go at once when their consoles on another close', () => {
    const a = instance('a');
    const b = instance('b');
    a.presence.connect(agent('mei'), 'a-1');
    b.presence.connect(agent('mei'), 'b-1');
    // Signed out through A: A's console closes, A departs them (B still shows a console, so A releases nothing)...
    a.presence.disconnect('a-1');
    a.presence.depart('mei');
    expect(a.departed).toEqual([]);
    // ...and B's console, closed by the same sign-out, ends their presence there without a grace period.
    b.presence.disconnect('b-1', { sessionEnded: true });
    expect(b.departed).toEqual(['mei']);
    // A console of another session of theirs that merely drops meanwhile (a network blip) still gets the grace period.
    b.presence.connect(agent('mei'), 'b-2');
    a.presence.depart('mei');
    b.presence.disconnect('b-2');
    expect(b.departed).toEqual(['mei']);
    vi.advanceTimersByTime(GRACE + 1);
    expect(b.departed).toEqual(['mei', 'mei']);
  });

  it('agrees on the newest status choice everywhere, though a choice was missed or two were made at once', () => {
    const a = instance('a');
    const b = instance('b');
    net.restore('a', Date.now());
    net.restore('b', Date.now());
    a.presence.connect(agent('mei'), 'a-1');
    b.presence.connect(agent('mei'), 'b-1');
    // B misses the choice made on A; the next snapshots bring it.
    net.cut('b');
    a.presence.setStatus('mei', 'away');
    net.restore('b', Date.now());
    expect(b.presence.isAvailable('mei')).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(b.presence.isAvailable('mei')).toBe(false);
    expect(a.presence.isAvailable('mei')).toBe(false);
    // Two choices at once, each unheard by the other when made: both instances settle on the same one.
    net.cut('a');
    net.cut('b');
    a.presence.setStatus('mei', 'available');
    b.presence.setStatus('mei', 'away');
    net.restore('a', Date.now());
    net.restore('b', Date.now());
    vi.advanceTimersByTime(10_000);
    expect(a.presence.isAvailable('mei')).toBe(b.presence.isAvailable('mei'));
    expect(a.presence.list()[0]?.status).toBe(b.presence.list()[0]?.status);
  });

  it('keeps an away agent away when a reload lands their console on another instance, and tells that instance\'s consoles of changes', () => {
    const a = instance('a');
    const b = instance('b');
    const shown: string[] = [];
    b.presence.onStatus((id, status) => shown.push(`${id}:${status}`));
    a.presence.connect(agent('mei'), 'a-1');
    a.presence.setStatus('mei', 'away');
    a.presence.disconnect('a-1');
    vi.advanceTimersByTime(5_000);
    // Away from its first moment: no snapshot ever shows her available in between.
    const availableSeen: number[] = [];
    a.presence.onChange(() => availableSeen.push(a.presence.availableFor('bank')));
    b.presence.connect(agent('mei'), 'b-1');
    expect(b.presence.statusOf('mei')).toBe('away');
    expect(a.presence.availableFor('bank')).toBe(0);
    expect(availableSeen.every((n) => n === 0)).toBe(true);
    // Back to available on A's new console: B's console is told.
    a.presence.connect(agent('mei'), 'a-2');
    a.presence.setStatus('mei', 'available');
    expect(shown).toEqual(['mei:available']);
    expect(b.presence.statusOf('mei')).toBe('available');
  });

  it('forgets the status of an agent signed out on another instance, so signing in again starts available', () => {
    const a = instance('a');
    const b = instance('b');
    const c = instance('c');
    a.presence.connect(agent('mei'), 'a-1');
    a.presence.setStatus('mei', 'away');
    // Signed out by an admin on C: B hears C's word before A's snapshot without her.
    c.presence.depart('mei');
    a.presence.disconnect('a-1', { sessionEnded: true });
    expect(b.departed).toEqual(['mei']);
    // She signs in again, and her console lands on B: available, as a new sign-in is.
    b.presence.connect(agent('mei'), 'b-1');
    expect(b.presence.statusOf('mei')).toBe('available');
    expect(a.presence.isAvailable('mei')).toBe(true);
  });
});
