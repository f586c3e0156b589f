import { describe, it, expect } from 'vitest';
import { createConversationTokens, isWellFormedToken, tokenFromHeaders } from '../../src/http/conversation-token.ts';

describe('conversation tokens', () => {
  const tokens = createConversationTokens('one-secret-that-is-long-enough-000000');

  it('verifies a token for the conversation it was issued for, and no other', () => {
    const t = tokens.issueConversationToken('conv-1');
    expect(isWellFormedToken(t)).toBe(true);
    expect(tokens.verifyConversationToken('conv-1', t)).toBe(true);
    expect(tokens.verifyConversationToken('conv-2', t)).toBe(false);
    expect(tokens.issueConversationToken('conv-1')).toBe(t);
  });

  it('refuses tokens signed with another secret, tampered with, or missing', () => {
    const other = createConversationTokens('another-secret-that-is-long-enough-11');
    const t = tokens.issueConversationToken('conv-1');
    expect(tokens.verifyConversationToken('conv-1', other.issueConversationToken('conv-1'))).toBe(false);
    const flipped = t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A');
    expect(tokens.verifyConversationToken('conv-1', flipped)).toBe(false);
    for (const bad of [null, undefined, '', 'v1.', t.slice(3), `${t}x`]) expect(tokens.verifyConversationToken('conv-1', bad)).toBe(false);
  });

  it('reads the token from a Bearer authorization header or x-kefu-token', () => {
    expect(tokenFromHeaders({ authorization: 'Bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(tokenFromHeaders({ 'x-kefu-token': 'def' })).toBe('def');
    expect(tokenFromHeaders({ authorization: 'Basic Zm9vOmJhcg==' })).toBeNull();
    expect(tokenFromHeaders({})).toBeNull();
  });
});
