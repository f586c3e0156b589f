import type { Namespace } from 'socket.io';

/** What instances tell each other about the rooms their sockets are in (only the rooms a directory tracks). */
export type RoomMessage =
  /** Every tracked room with a socket at `instance` now; holds until `ttlMs` passes without another. */
  | { type: 'rooms'; instance: string; rooms: string[]; ttlMs: number; seq: number }
  /** A room got its first socket at `instance`, or lost its last. */
  | { type: 'room'; instance: string; room: string; present: boolean; seq: number }
  /** A new instance asks the others for their rooms. */
  | { type: 'rooms-hello'; instance: string }
  /** An instance is stopping. */
  | { type: 'rooms-bye'; instance: string };

/** How instances reach each other (socket.io's serverSideEmit over Redis). Never delivers to the sender. */
export interface RoomBus {
  publish(message: RoomMessage): void;
  /** Publishes and resolves once every other instance has taken it (or `timeoutMs` has passed). */
  publishAndWait(message: RoomMessage, timeoutMs: number): Promise<void>;
  /**
   * Publishes and resolves with every other listening instance's answer (what its listener returned); rejects when
   * one does not answer in time.
   */
  request(message: RoomMessage): Promise<unknown[]>;
  /** A listener's return value is its answer to a request. */
  subscribe(listener: (message: RoomMessage) => unknown): () => void;
  /** Since when (performance.now()) this instance has been hearing the others without a break; null while it cannot. */
  healthySince(): number | null;
}

export interface RoomDirectory {
  /**
   * False only when no socket anywhere is in `room`, as far as this instance can be sure: while it cannot be (a room
   * it does not track, just started, or its connection to the others broke and has not been back for a heartbeat),
   * always true.
   */
  anyoneIn(room: string): boolean;
  /**
   * Resolves once the other instances know that this instance has a socket in `room` (at once unless a join just
   * gave it its first): a socket that joins and then reads what the room will push must read after this, or a
   * push from another instance that did not know yet could fall between the read and the room.
   */
  settled(room: string): Promise<void>;
  /** Sends this instance's rooms again and asks the others for theirs (after pushes may have been lost). */
  republish(): void;
  dispose(): void;
}

/** How long a join waits for the other instances to hear of it before it reads anyway. */
const ANNOUNCE_TIMEOUT_MS = 2_000;

export interface RoomDirectoryOptions {
  instance: string;
  /** Which rooms are worth telling the others about (a few, joined rarely: consoles', not customers'). */
  tracked: (room: string) => boolean;
  heartbeatMs?: number;
  ttlMs?: number;
  now?: () => number;
}

/**
 * Which of a namespace's rooms have a socket on some instance. With socket.io's Redis adapter a push to a room costs
 * the same whether or not anyone is in it (encoded, published, read back by every instance); the agent console's
 * rooms are empty most of the time (no console shows the conversation), so knowing saves that cost on every
 * customer turn. A console joins a room before it reads what the room will push, and the others hear of the join
 * within Redis's latency, well before anything the read missed could be stored: skipping a push loses nothing.
 */
export function createRoomDirectory(nsp: Namespace, bus: RoomBus, options: RoomDirectoryOptions): RoomDirectory {
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const ttlMs = options.ttlMs ?? 3 * heartbeatMs;
  const now = options.now ?? (() => performance.now());
  // `seq`: the newest of the instance's messages applied (its messages are numbered as it sends them). An answer to a
  // request arrives with the others' and is applied when the last one is in: a change that instance sent after
  // answering may already be here, and must not be overwritten by the older answer.
  const remote = new Map<string, { rooms: Set<string>; expiresAt: number; seq: number }>();
  let sent = 0;
  let disposed = false;
  const publish = (m: RoomMessage): void => {
    if (!disposed) bus.publish(m);
  };
  const localRooms = (): string[] => [...nsp.adapter.rooms.keys()].filter((r) => options.tracked(r));
  const rooms = (): RoomMessage => ({ type: 'rooms', instance: options.instance, rooms: localRooms(), ttlMs, seq: ++sent });
  const snapshot = (): void => publish(rooms());

  // A room's first socket here: the others are told, and whoever reads for it waits until they have heard.
  const announcing = new Map<string, Promise<void>>();
  const onCreate = (room: string): void => {
    if (!options.tracked(room) || disposed) return;
    const told = bus.publishAndWait({ type: 'room', instance: options.instance, room, present: true, seq: ++sent }, ANNOUNCE_TIMEOUT_MS).catch(() => undefined);
    announcing.set(room, told);
    void told.then(() => {
      if (announcing.get(room) === told) announcing.delete(room);
    });
  };
  const onDelete = (room: string): void => {
    if (options.tracked(room)) publish({ type: 'room', instance: options.instance, room, present: false, seq: ++sent });
  };
  nsp.adapter.on('create-room', onCreate);
  nsp.adapter.on('delete-room', onDelete);

  /** Takes an instance's list of rooms unless something newer from it is already here. */
  const takeRooms = (m: Extract<RoomMessage, { type: 'rooms' }>): void => {
    const e = remote.get(m.instance);
    if (e && e.seq >= m.seq) return void (e.expiresAt = now() + m.ttlMs);
    remote.set(m.instance, { rooms: new Set(m.rooms), expiresAt: now() + m.ttlMs, seq: m.seq });
  };
  const unsubscribe = bus.subscribe((m) => {
    if (disposed || m.instance === options.instance) return;
    // Asked: the answer is this instance's rooms (the asker waits for every instance's).
    if (m.type === 'rooms-hello') return rooms();
    else if (m.type === 'rooms-bye') remote.delete(m.instance);
    else if (m.type === 'rooms') takeRooms(m);
    else {
      const e = remote.get(m.instance) ?? { rooms: new Set<string>(), expiresAt: now() + ttlMs, seq: 0 };
      remote.set(m.instance, e);
      if (m.seq <= e.seq) return undefined;
      e.seq = m.seq;
      if (m.present) e.rooms.add(m.room);
      else e.rooms.delete(m.room);
    }
    return undefined;
  });

  // Sure of the others' rooms once every instance listening has answered this one's request for them (at start, and
  // after any break); failing that, once a heartbeat and a half has passed (each sends its rooms every heartbeat),
  // with a margin for late timers.
  const trustAfterMs = heartbeatMs * 1.5;
  let askedAt = now();
  let heardSince: number | null = bus.healthySince();
  let sure = false;
  let round = 0;
  // Every listening instance answers with its rooms (socket.io ties the answers to this one request and counts the
  // instances): sure once all have. One that does not answer in time leaves it unsure until the time-based trust.
  const ask = (): void => {
    askedAt = now();
    heardSince = bus.healthySince();
    sure = false;
    const mine = ++round;
    snapshot();
    if (disposed) return;
    bus.request({ type: 'rooms-hello', instance: options.instance }).then(
      (answers) => {
        if (mine !== round || disposed) return; // asked again meanwhile
        for (const a of answers) {
          const m = a as RoomMessage | undefined;
          if (m?.type === 'rooms' && Array.isArray(m.rooms)) takeRooms(m);
        }
        sure = true;
      },
      () => undefined,
    );
  };
  const tick = (): void => {
    const since = bus.healthySince();
    // Back after a break: the others' rooms may have changed unheard; ask again.
    if (since !== null && since !== heardSince) ask();
    heardSince = since;
    const t = now();
    if (since !== null && t - since >= ttlMs) for (const [instance, e] of remote) if (e.expiresAt < t) remote.delete(instance);
    snapshot();
  };
  ask();
  const heartbeat = setInterval(tick, heartbeatMs);
  heartbeat.unref();

  return {
    anyoneIn(room) {
      if ((nsp.adapter.rooms.get(room)?.size ?? 0) > 0 || !options.tracked(room)) return true;
      const since = bus.healthySince();
      if (since === null) return true;
      if (since > askedAt) {
        // Back after a break since it last asked: what it knew may be stale. Ask now rather than at the heartbeat.
        heardSince = since;
        ask();
        return true;
      }
      if (!sure && now() - askedAt < trustAfterMs) return true;
      for (const e of remote.values()) if (e.rooms.has(room)) return true;
      return false;
    },
    settled: (room) => announcing.get(room) ?? Promise.resolve(),
    republish: ask,
    dispose() {
      if (disposed) return;
      publish({ type: 'rooms-bye', instance: options.instance });
      disposed = true;
      clearInterval(heartbeat);
      unsubscribe();
      nsp.adapter.off('create-room', onCreate);
      nsp.adapter.off('delete-room', onDelete);
    },
  };
}
