import { describe, it, expect } from 'vitest';
import { createCallBatch } from '../../src/workers/call-batch.ts';

type Call = { id: number; x: unknown };

describe('call batch (calls to a thread, one message per event-loop turn)', () => {
  it('sends the calls of one turn in one message and settles each by its id', async () => {
    const sent: Call[][] = [];
    const batch = createCallBatch<Call, string>((calls) => sent.push(calls));
    const a = batch.add({ id: 1, x: 'a' });
    const b = batch.add({ id: 2, x: 'b' });
    expect(batch.size).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[{ id: 1, x: 'a' }, { id: 2, x: 'b' }]]);
    batch.settle(2, { value: 'B' });
    batch.settle(1, { error: new Error('no A') });
    await expect(b).resolves.toBe('B');
    await expect(a).rejects.toThrow('no A');
    batch.settle(1, { value: 'late' }); // already settled: ignored
    expect(batch.size).toBe(0);
  });

  it('fails only the call that cannot be sent, and sends the rest of its batch', async () => {
    const sent: Call[][] = [];
    const batch = createCallBatch<Call, string>((calls) => {
      // As postMessage does: the whole message is refused when any part cannot be cloned.
      structuredClone(calls);
      sent.push(calls);
    });
    const good = batch.add({ id: 1, x: 'fine' });
    const bad = batch.add({ id: 2, x: () => 0 });
    await expect(bad).rejects.toMatchObject({ name: 'DataCloneError' });
    expect(sent).toEqual([[{ id: 1, x: 'fine' }]]);
    batch.settle(1, { value: 'ok' });
    await expect(good).resolves.toBe('ok');
  });

  it('tells when the first call waits and the last is answered, and fails everything on failAll', async () => {
    const events: string[] = [];
    const batch = createCallBatch<Call, string>(() => undefined, { onBusy: () => events.push('busy'), onIdle: () => events.push('idle') });
    const one = batch.add({ id: 1, x: 1 });
    const two = batch.add({ id: 2, x: 2 });
    batch.failAll(new Error('thread gone'));
    await expect(one).rejects.toThrow('thread gone');
    await expect(two).rejects.toThrow('thread gone');
    expect(events).toEqual(['busy', 'idle']);
    expect(batch.size).toBe(0);
  });
});
