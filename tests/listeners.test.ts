import { describe, expect, it } from 'vitest';
import { createListeners } from '../src/listeners.ts';

describe('listeners', () => {
  it('calls every listener added, in order, until it is removed', () => {
    const heard: string[] = [];
    const l = createListeners<[who: string]>();
    const removeA = l.add((w) => heard.push(`a:${w}`));
    l.add((w) => heard.push(`b:${w}`));
    l.emit('x');
    removeA();
    l.emit('y');
    expect(heard).toEqual(['a:x', 'b:x', 'b:y']);
  });

  it("reports a listener's throw and still calls the others when told how, and lets it reach the emitter otherwise", () => {
    const errors: unknown[] = [];
    const heard: number[] = [];
    const guarded = createListeners<[n: number]>((err) => errors.push(err));
    guarded.add(() => {
      throw new Error('boom');
    });
    guarded.add((n) => heard.push(n));
    guarded.emit(1);
    expect(heard).toEqual([1]);
    expect(errors).toHaveLength(1);
    const plain = createListeners<[]>();
    plain.add(() => {
      throw new Error('boom');
    });
    expect(() => plain.emit()).toThrow('boom');
  });
});
