import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { startDatabaseClock } from '../../src/store/database-clock.ts';

// A local clock the test moves by hand, and a database whose clock is `ahead` ms ahead, each read taking `rtts` ms
// in turn (split evenly either side of the moment the database reads its clock).
function world(ahead: number, rtts: number[]) {
  let t = 1_000_000;
  let i = 0;
  const local = (): number => t;
  const read = async (): Promise<number> => {
    const rtt = rtts[i++ % rtts.length]!;
    t += rtt / 2;
    const db = t + ahead;
    t += rtt / 2;
    return db;
  };
  return { local, read, advance: (ms: number) => (t += ms) };
}

function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
  return { log, lines };
}

describe('database clock', () => {
  it("keeps the database's time as an offset from the instance's, from the read with the shortest round trip", async () => {
    // An asymmetric slow read would skew the estimate; the fast one is exact here.
    const w = world(120_000, [400, 2, 300]);
    let calls = 0;
    const clock = await startDatabaseClock(async () => {
      calls++;
      // The slow reads also land late on the database's side: only the quick one tells the truth.
      const db = await w.read();
      return calls === 2 ? db : db + 150;
    }, { local: w.local });
    try {
      expect(clock.now()).toBe(w.local() + 120_000);
      w.advance(5_000);
      expect(clock.now()).toBe(w.local() + 120_000);
    } finally {
      clock.stop();
    }
  });

  it('warns once while the offset is large, again after it came back and went off again, and keeps the last offset when a read fails', async () => {
    let ahead = 5_000;
    let failing = false;
    let t = 0;
    const { log, lines } = capture();
    const clock = await startDatabaseClock(async () => {
      if (failing) throw new Error('connection lost');
      return t + ahead;
    }, { local: () => t, log });
    try {
      expect(clock.now()).toBe(5_000);
      await clock.measure();
      expect(lines.filter((l) => l.includes("differs from the database's"))).toHaveLength(1);
      ahead = 10;
      await clock.measure();
      expect(clock.now()).toBe(10);
      ahead = -3_000;
      await clock.measure();
      expect(lines.filter((l) => l.includes("differs from the database's"))).toHaveLength(2);
      failing = true;
      await expect(clock.measure()).rejects.toThrow('connection lost');
      expect(clock.now()).toBe(-3_000);
      t = 50;
      expect(clock.now()).toBe(-2_950);
    } finally {
      clock.stop();
    }
  });
});
