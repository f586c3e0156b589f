import { getRandomValues } from 'node:crypto';
import { v7 } from 'uuid';

// uuid draws 16 fresh bytes from the OS for every id (a getrandom system call each): on the store thread that was
// 7 % of its time in bench:chat's profile. Drawing 4 KiB at once serves 256 ids per call.
const pool = new Uint8Array(4096);
let next = pool.length;
const random16 = (): Uint8Array => {
  if (next + 16 > pool.length) {
    getRandomValues(pool);
    next = 0;
  }
  return pool.subarray(next, (next += 16));
};

// Given its own random bytes, uuid no longer keeps ids of one millisecond in order: this does, as uuid does for
// itself (RFC 9562's counter: a random start each millisecond, then +1).
let lastMs = -Infinity;
let seq = 0;

/**
 * A time-ordered id (UUIDv7), increasing within this process: each new row lands at the right edge of the id index
 * instead of on a random page of it, so a WAL checkpoint writes a few pages there rather than one per message.
 */
export function timeOrderedId(): string {
  const random = random16();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++; // the counter wrapped: borrow the next millisecond
  }
  return v7({ random, msecs: lastMs, seq });
}
