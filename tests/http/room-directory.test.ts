import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Namespace } from 'socket.io';
import { createRoomDirectory, type RoomBus, type RoomDirectory, type RoomMessage } from '../../src/http/room-directory.ts';

/** A namespace's adapter as the directory sees it: rooms of socket ids, and create/delete events. */
class FakeAdapter extends EventEmitter {
  rooms = new Map<string, Set<string>>();
  join(room: string, id: string): void {
    if (!this.rooms.has(room)) {
      this.rooms.set(room, new Set());
      this.emit('create-room', room);
    }
    this.rooms.get(room)!.add(id);
  }
  leave(room: string, id: string): void {
    const r = this.rooms.get(room);
    if (!r?.delete(id) || r.size > 0) return;
    this.rooms.delete(room);
    this.emit('delete-room', room);
  }
}

/** Instances on one in-memory bus, as serverSideEmit delivers: to every other instance, not the sender. */
function network() {
  const members = new Map<string, (m: RoomMessage) => unknown>();
  const down = new Set<string>();
  const healthy = new Map<string, number>();
  let delayMs = 0;
  const send = (instance: string, m: RoomMessage): void => {
    if (down.has(instance)) return;
    for (const [other, deliver] of members) if (other !== instance && !down.has(other)) deliver(structuredClone(m));
  };
  const bus = (instance: string): RoomBus => ({
    publish: (m) => send(instance, m),
    // Delivered at once, or (net.slow) a moment later, as over Redis: what waits for it must really wait then.
    publishAndWait: (m) => (delayMs === 0 ? Promise.resolve(send(instance, m)) : new Promise((resolve) => setTimeout(() => resolve(send(instance, m)), delayMs))),
    request: async (m) => {
      if (down.has(instance)) throw new Error('cut off');
      return [...members].filter(([other]) => other !== instance && !down.has(other)).map(([, deliver]) => deliver(structuredClone(m)));
    },
    subscribe: (listener) => {
      members.set(instance, listener);
      return () => void members.delete(instance);
    },
    healthySince: () => (down.has(instance) ? null : (healthy.get(instance) ?? 0)),
  });
  return {
    bus,
    /** Announcements that are waited for arrive 5 ms after they are sent. */
    slow: () => void (delayMs = 5),
    cut: (instance: string) => void down.add(instance),
    restore: (instance: string, at: number) => {
      down.delete(instance);
      healthy.set(instance, at);
    },
  };
}

describe('room directory across instances', () => {
  let net: ReturnType<typeof network>;
  let made: RoomDirectory[];
  const instance = (name: string): { adapter: FakeAdapter; rooms: RoomDirectory } => {
    const adapter = new FakeAdapter();
    const rooms = createRoomDirectory({ adapter } as unknown as Namespace, net.bus(name), {
      instance: name, tracked: (r) => r === 'live' || r.startsWith('conv:'), heartbeatMs: 10_000, ttlMs: 30_000, now: () => Date.now(),
    });
    made.push(rooms);
    return { adapter, rooms };
  };
  beforeEach(() => {
    vi.useFakeTimers();
    net = network();
    made = [];
  });
  afterEach(() => {
    for (const d of made) d.dispose();
    vi.useRealTimers();
  });

  it('says a room is empty only when no instance has a socket in it, once it has heard every instance, and hears of a join at once', async () => {
    const a = instance('a');
    // Not yet sure of the others (how many there are is still being asked): every push goes out.
    expect(a.rooms.anyoneIn('conv:1')).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(a.rooms.anyoneIn('conv:1')).toBe(false); // alone, and knows it
    const b = instance('b');
    expect(b.rooms.anyoneIn('conv:1')).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rooms.anyoneIn('conv:1')).toBe(false); // A has answered with its rooms
    expect(a.rooms.anyoneIn('live')).toBe(false);
    b.adapter.join('conv:1', 'console-1');
    expect(a.rooms.anyoneIn('conv:1')).toBe(true);
    expect(b.rooms.anyoneIn('conv:1')).toBe(true);
    // A second console there changes nothing; the last one leaving does.
    b.adapter.join('conv:1', 'console-2');
    b.adapter.leave('conv:1', 'console-1');
    expect(a.rooms.anyoneIn('conv:1')).toBe(true);
    b.adapter.leave('conv:1', 'console-2');
    expect(a.rooms.anyoneIn('conv:1')).toBe(false);
    // Rooms it does not track are never announced, so it cannot say they are empty.
    b.adapter.join('agent:mei', 'console-3');
    expect(a.rooms.anyoneIn('agent:mei')).toBe(true);
  });

  it('learns the rooms of an instance that starts later, forgets those of one that stops or dies, and is unsure while cut off', async () => {
    const a = instance('a');
    await vi.advanceTimersByTimeAsync(0);
    const b = instance('b');
    b.adapter.join('live', 'console-1');
    expect(a.rooms.anyoneIn('live')).toBe(true);
    // B stops: its rooms go with it.
    made.splice(made.indexOf(b.rooms), 1);
    b.rooms.dispose();
    expect(a.rooms.anyoneIn('live')).toBe(false);
    // C has a console and then dies without a word: its rooms hold for their time to live, then go.
    const c = instance('c');
    c.adapter.join('conv:9', 'console-2');
    net.cut('c');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(a.rooms.anyoneIn('conv:9')).toBe(true);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(a.rooms.anyoneIn('conv:9')).toBe(false);
    // A itself cut off: it cannot know who joined meanwhile, so it pushes everything until it has asked again and
    // every instance listening has answered.
    net.cut('a');
    expect(a.rooms.anyoneIn('conv:9')).toBe(true);
    net.restore('a', Date.now());
    expect(a.rooms.anyoneIn('conv:9')).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000); // its next heartbeat sees the break, asks, and hears everyone
    expect(a.rooms.anyoneIn('conv:9')).toBe(false);
  });

  it('lets a joining socket wait until the others know, and sends its rooms again when asked to', async () => {
    const a = instance('a');
    const b = instance('b');
    await vi.advanceTimersByTimeAsync(0);
    net.slow();
    b.adapter.join('live', 'console-1');
    let settled = false;
    void b.rooms.settled('live').then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    // Not yet heard, and the join not yet settled: a console must not read now.
    expect(a.rooms.anyoneIn('live')).toBe(false);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(5);
    expect(settled).toBe(true);
    expect(a.rooms.anyoneIn('live')).toBe(true);
    await b.rooms.settled('conv:never-joined'); // nothing to wait for
    // B's announcement was lost (Redis dropped it): A skips until B sends its rooms again.
    net.cut('b');
    b.adapter.join('conv:5', 'console-1');
    net.restore('b', 0);
    expect(a.rooms.anyoneIn('conv:5')).toBe(false);
    b.rooms.republish();
    expect(a.rooms.anyoneIn('conv:5')).toBe(true);
  });

  it("keeps a change an instance sent after answering, though its answer is applied later (with the others')", async () => {
    const a = instance('a');
    await vi.advanceTimersByTimeAsync(0);
    const b = instance('b'); // asks; A answers at once (no rooms), and the answer waits for the others'
    a.adapter.join('conv:7', 'console-1'); // sent after the answer, arrives before it is applied
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rooms.anyoneIn('conv:7')).toBe(true);
  });
});
