import { describe, expect, it } from 'vitest';
import { probeMachine } from '../../scripts/machine-probe.ts';

describe('machine probe (bench:chat)', () => {
  it('reads a thread round trip and a memory read as positive times, the CPU of a round trip counted in this process', async () => {
    const p = await probeMachine({ roundTrips: 200, reads: 200_000 });
    expect(Number.isFinite(p.thread_round_trip_us) && p.thread_round_trip_us > 0).toBe(true);
    expect(Number.isFinite(p.thread_round_trip_cpu_us) && p.thread_round_trip_cpu_us > 0).toBe(true);
    // A dependent read cannot take less than a nanosecond, nor a round trip between threads less than one.
    expect(p.memory_read_ns).toBeGreaterThan(0.5);
    expect(p.thread_round_trip_us).toBeGreaterThan(1);
  });
});
