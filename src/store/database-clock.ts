import type { Logger } from '../log.ts';

/** Reads the database's own time, in ms since the epoch. */
export type ReadDatabaseTime = () => Promise<number>;

export interface DatabaseClock {
  /** Now, on the database's clock (this instance's clock corrected by the last measured offset), ms since the epoch. */
  now(): number;
  /** Measures the offset again; a failed measurement keeps the last one. */
  measure(): Promise<void>;
  stop(): void;
}

export interface DatabaseClockOptions {
  /** How often the offset is measured again (default a minute; a clock stepped by NTP is followed within that). */
  refreshMs?: number;
  /** Over this offset, a warning is logged: the instance's clock needs fixing, though kefu no longer depends on it. */
  warnOverMs?: number;
  /** The local clock (tests move it). */
  local?: () => number;
  log?: Logger;
}

const SAMPLES = 3;

/**
 * The database's clock, kept on this instance as an offset from its own. Several instances stamp the same rows
 * (queued_at, updated_at …) and compare them with "now" (idle closing, queue order, session expiry): on one clock,
 * an instance whose own clock runs minutes fast cannot close conversations early or put its customers ahead in the
 * queue. Each measurement takes the read with the shortest round trip of a few, its midpoint as the moment of the read.
 */
export async function startDatabaseClock(read: ReadDatabaseTime, options: DatabaseClockOptions = {}): Promise<DatabaseClock> {
  const local = options.local ?? Date.now;
  const warnOverMs = options.warnOverMs ?? 1000;
  let offset = 0;
  let warned = false;
  let stopped = false;

  const measure = async (): Promise<void> => {
    let best: { rtt: number; offset: number } | null = null;
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = local();
      const db = await read();
      const t1 = local();
      const sample = { rtt: t1 - t0, offset: db - (t0 + t1) / 2 };
      if (best === null || sample.rtt < best.rtt) best = sample;
    }
    offset = Math.round(best!.offset);
    const off = Math.abs(offset) > warnOverMs;
    if (off && !warned) options.log?.warn({ offsetMs: offset }, "this instance's clock differs from the database's; kefu keeps time by the database's (fix the instance's NTP)");
    warned = off;
  };

  await measure();
  const timer = setInterval(() => {
    measure().catch((err: unknown) => {
      // A reading under way when the store closed fails with the pool: nothing to say then.
      if (!stopped) options.log?.warn({ err }, "could not read the database's clock; keeping the last offset");
    });
  }, options.refreshMs ?? 60_000);
  timer.unref();
  return {
    now: () => local() + offset,
    measure,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
