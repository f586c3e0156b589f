import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import type { Agent } from '../../src/domain/agent.ts';
import { createAgentPresence, type AgentPresence } from '../../src/handoff/agent-presence.ts';

const agent = (id: string, groups: string[] = []): Agent => ({
  id, username: id, displayName: id, role: 'agent', groups, disabled: false, createdAt: '', updatedAt: '', lastLoginAt: null,
});

describe('agent presence', () => {
  let presence: AgentPresence;
  let departed: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    presence = createAgentPresence({ graceMs: 60_000 });
    departed = [];
    presence.onDeparted((id) => departed.push(id));
  });
  afterEach(() => {
    presence.dispose();
    vi.useRealTimers();
  });

  it('takes an agent off duty when their last console closes, and counts them gone only after the grace period', () => {
    presence.connect(agent('a', ['bank']), 's1');
    presence.connect(agent('a', ['bank']), 's2');
    presence.disconnect('s1');
    vi.advanceTimersByTime(120_000);
    expect(departed).toEqual([]); // one console is still open
    presence.disconnect('s2');
    expect(presence.availableFor('bank')).toBe(0);
    expect(presence.isConnected('a')).toBe(false);
    vi.advanceTimersByTime(59_999);
    expect(departed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(departed).toEqual(['a']);
    vi.advanceTimersByTime(120_000);
    expect(departed).toEqual(['a']); // once
  });

  it('keeps an agent whose console comes back within the grace period (a reload, a network blip)', () => {
    presence.connect(agent('a'), 's1');
    presence.disconnect('s1');
    vi.advanceTimersByTime(30_000);
    presence.connect(agent('a'), 's2');
    vi.advanceTimersByTime(120_000);
    expect(departed).toEqual([]);
    // The next time they go, the period starts afresh.
    presence.disconnect('s2');
    vi.advanceTimersByTime(59_000);
    expect(departed).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(departed).toEqual(['a']);
  });

  it('lets an agent who signs out depart at once, unless a console of theirs is still open', () => {
    presence.connect(agent('a'), 's1');
    presence.depart('a');
    expect(departed).toEqual([]);
    presence.disconnect('s1');
    presence.depart('a');
    expect(departed).toEqual(['a']);
    vi.advanceTimersByTime(120_000);
    expect(departed).toEqual(['a']); // the grace period the disconnect started was cancelled
    presence.depart('never-connected');
    expect(departed).toEqual(['a', 'never-connected']);
  });

  it('gives agents who have no console open after a restart the grace period to come back', () => {
    presence.awaitReturn('a');
    presence.awaitReturn('b');
    presence.connect(agent('b'), 's1');
    presence.awaitReturn('b'); // connected: nothing to wait for
    vi.advanceTimersByTime(60_000);
    expect(departed).toEqual(['a']);
  });

  it('keeps an away agent away when their console comes back within the grace period, and tells who listens of each change', () => {
    const changes: string[] = [];
    presence.onStatus((id, status) => changes.push(`${id}:${status}`));
    presence.connect(agent('a', ['bank']), 's1');
    expect(presence.statusOf('a')).toBe('available');
    presence.setStatus('a', 'away');
    presence.setStatus('a', 'away'); // no change, nothing to tell
    expect(changes).toEqual(['a:away']);
    // A reload: the console is back away, and takes no customers.
    presence.disconnect('s1');
    expect(presence.statusOf('a')).toBeNull();
    vi.advanceTimersByTime(10_000);
    presence.connect(agent('a', ['bank']), 's2');
    expect(presence.statusOf('a')).toBe('away');
    expect(presence.availableFor('bank')).toBe(0);
    // Gone for good, then signed in again: a fresh start is available.
    presence.disconnect('s2');
    vi.advanceTimersByTime(60_000);
    expect(departed).toEqual(['a']);
    presence.connect(agent('a', ['bank']), 's3');
    expect(presence.statusOf('a')).toBe('available');
    // Signing out forgets it too.
    presence.setStatus('a', 'away');
    presence.disconnect('s3');
    presence.depart('a');
    presence.connect(agent('a', ['bank']), 's4');
    expect(presence.statusOf('a')).toBe('available');
  });
});
