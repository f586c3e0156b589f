/**
 * Two readings of the machine a benchmark runs on that its own figures depend on and that differ widely between
 * the machines this project is measured on: what handing a message to another thread and back costs (kefu's turn
 * crosses threads four times), and how long a read from memory outside the caches takes (the classifier's weights
 * are megabytes). Printed beside bench:chat's figures so that runs on different machines can be compared.
 */
import { Worker } from 'node:worker_threads';

export interface MachineProbe {
  /** A postMessage to a worker thread and its answer, back to back: wall time and this process's CPU, µs. */
  thread_round_trip_us: number;
  thread_round_trip_cpu_us: number;
  /** A dependent random read over 16 MiB (past most per-core caches), ns. */
  memory_read_ns: number;
}

const ECHO_WORKER = `require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`;

/** Measures the machine; `roundTrips` and `reads` trade precision for time (defaults take well under a second). */
export async function probeMachine(options: { roundTrips?: number; reads?: number } = {}): Promise<MachineProbe> {
  const roundTrips = options.roundTrips ?? 5_000;
  const reads = options.reads ?? 5_000_000;
  const worker = new Worker(ECHO_WORKER, { eval: true });
  try {
    const pingPong = (n: number): Promise<void> =>
      new Promise((resolve) => {
        let left = n;
        const onMessage = (): void => {
          if (--left > 0) return void worker.postMessage(left);
          worker.off('message', onMessage);
          resolve();
        };
        worker.on('message', onMessage);
        worker.postMessage(left);
      });
    await pingPong(500); // the worker's start and the first messages' setup are not what is measured
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pingPong(roundTrips);
    const wallUs = (performance.now() - t0) * 1000;
    const cpu = process.cpuUsage(cpu0);
    return { thread_round_trip_us: wallUs / roundTrips, thread_round_trip_cpu_us: (cpu.user + cpu.system) / roundTrips, memory_read_ns: memoryReadNs(reads) };
  } finally {
    await worker.terminate();
  }
}

function memoryReadNs(reads: number): number {
  const size = 1 << 22; // 4 Mi Int32 = 16 MiB
  // A random cycle through the array: each read's address depends on the one before, so the reads cannot overlap.
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  let seed = 0x2545f491;
  for (let i = size - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    const j = (seed >>> 0) % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const next = new Int32Array(size);
  for (let i = 0; i < size; i++) next[order[i]!] = order[(i + 1) % size]!;
  let at = 0;
  for (let i = 0; i < 100_000; i++) at = next[at]!;
  const t0 = performance.now();
  for (let i = 0; i < reads; i++) at = next[at]!;
  const ns = ((performance.now() - t0) * 1e6) / reads;
  // `at` is used so the loop cannot be dropped.
  return at < 0 ? -1 : ns;
}
