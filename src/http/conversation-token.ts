import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';

// A token is `v1.` + base64url(HMAC-SHA256(secret, "conversation:" + id)): it proves its holder was given that
// conversation, costs no storage, and survives restarts as long as the secret does. The version prefix lets the
// scheme change (expiry, rotation) without guessing which kind a client holds.
const PREFIX = 'v1.';
const TOKEN_RE = /^v1\.[A-Za-z0-9_-]{43}$/;

export interface ConversationTokens {
  /** The access token for a conversation, handed to whoever created it. */
  issueConversationToken(conversationId: string): string;
  /** True when `token` was issued for `conversationId` (constant-time comparison). */
  verifyConversationToken(conversationId: string, token: string | null | undefined): boolean;
}

/** Issues and checks per-conversation access tokens signed with `secret`. */
export function createConversationTokens(secret: string | Buffer): ConversationTokens {
  // A key object made once: from a string or buffer, createHmac prepares the key again on every call (every message).
  const key = createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
  const sign = (id: string): Buffer => createHmac('sha256', key).update(`conversation:${id}`).digest();
  return {
    issueConversationToken(id) {
      return PREFIX + sign(id).toString('base64url');
    },
    verifyConversationToken(id, token) {
      if (!isWellFormedToken(token)) return false;
      return timingSafeEqual(Buffer.from(token.slice(PREFIX.length), 'base64url'), sign(id));
    },
  };
}

/** True when `token` has the shape of a token this server issues (says nothing about which conversation). */
export function isWellFormedToken(token: string | null | undefined): token is string {
  return typeof token === 'string' && TOKEN_RE.test(token);
}

/** The token a request carries: `Authorization: Bearer <token>`, else `x-kefu-token`; null when neither is present. */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1] ?? null;
  }
  const header = headers['x-kefu-token'];
  return typeof header === 'string' && header !== '' ? header : null;
}
