import { describe, it, expect } from 'vitest';
import { KefuError } from '../src/errors.ts';

describe('KefuError across a thread boundary', () => {
  it('comes back from its JSON with code, status, message, and details or facts', () => {
    const listed = new KefuError('KEFU_VALIDATION', ['text: required'], { details: ['text: required'] });
    const back = KefuError.fromJSON(structuredClone(listed.toJSON()));
    expect(back).toBeInstanceOf(KefuError);
    expect(back).toMatchObject({ code: 'KEFU_VALIDATION', status: 400, message: 'text: required', details: ['text: required'], facts: null });

    const claimed = new KefuError('KEFU_ALREADY_CLAIMED', ['c1', '王小明'], { facts: { ownerAgentId: 'a1', ownerName: '王小明' } });
    const again = KefuError.fromJSON(structuredClone(claimed.toJSON()));
    expect(again).toMatchObject({ code: 'KEFU_ALREADY_CLAIMED', status: 409, message: claimed.message, facts: { ownerAgentId: 'a1', ownerName: '王小明' } });
    expect(again?.toJSON()).toEqual(claimed.toJSON());
  });

  it('is null for anything that is not a KefuError of a known code', () => {
    for (const j of [null, 'x', { code: 'NOPE', message: 'm' }, { code: 'KEFU_INTERNAL' }, new Error('boom')]) expect(KefuError.fromJSON(j)).toBeNull();
  });
});
