import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Agent, AgentRole } from '../domain/agent.ts';
import { KefuError } from '../errors.ts';
import type { AgentAccounts, SignedIn } from '../handoff/agent-accounts.ts';
import { isSessionToken } from '../handoff/agent-accounts.ts';

/** The console's session cookie: HttpOnly (page scripts cannot read it), SameSite=Strict (no other site can send it). */
export const SESSION_COOKIE = 'kefu_session';

/** The cookie's value in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  return null;
}

// One cookie, whose value is already a URL-safe random token, so a few lines here rather than a cookie library.
/** The Set-Cookie value that stores (or, with maxAge 0, removes) the session token. */
export function sessionCookie(token: string, options: { maxAgeSeconds: number; secure: boolean }): string {
  return [
    `${SESSION_COOKIE}=${token}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * The session token a request or socket handshake carries: `Authorization: Bearer` first (API and socket clients),
 * else the session cookie (the console in a browser). A Bearer that is not a session token (a customer's
 * conversation token, say) is still returned, so it is refused rather than silently replaced by a cookie.
 */
export function sessionTokenFrom(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1]) return m[1];
  }
  const cookie = headers.cookie;
  return cookieValue(typeof cookie === 'string' ? cookie : undefined, SESSION_COOKIE);
}

/** Checks a token and a role; throws KEFU_SESSION_REQUIRED (401) or KEFU_ROLE_FORBIDDEN (403). */
export async function authorise(accounts: AgentAccounts, token: string | null, allowed: readonly AgentRole[], action: string): Promise<SignedIn> {
  if (token === null) throw new KefuError('KEFU_SESSION_REQUIRED', ['sign in at POST /api/v1/auth/login']);
  if (!isSessionToken(token)) throw new KefuError('KEFU_SESSION_REQUIRED', ['this is not a console session token']);
  const signedIn = await accounts.authenticate(token);
  if (!signedIn) throw new KefuError('KEFU_SESSION_REQUIRED', ['the session has ended or expired; sign in again']);
  if (!allowed.includes(signedIn.agent.role)) throw new KefuError('KEFU_ROLE_FORBIDDEN', [signedIn.agent.role, action]);
  return signedIn;
}

const signedInByRequest = new WeakMap<FastifyRequest, SignedIn>();

/**
 * An onRequest hook admitting only sessions of the given roles; the route then reads the account with
 * `signedInAgent(req)`. Runs before the body is parsed, so nobody without a session costs more than a lookup.
 */
export function requireRole(accounts: AgentAccounts, allowed: readonly AgentRole[], action: string) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const signedIn = await authorise(accounts, sessionTokenFrom(req.headers), allowed, action);
    signedInByRequest.set(req, signedIn);
    req.log = req.log.child({ agentId: signedIn.agent.id });
  };
}

/** The account a requireRole hook admitted. */
export function signedInAgent(req: FastifyRequest): Agent {
  const s = signedInByRequest.get(req);
  if (!s) throw new Error('signedInAgent() on a route without requireRole');
  return s.agent;
}

/** The session a requireRole hook admitted. */
export function signedInSession(req: FastifyRequest): SignedIn {
  const s = signedInByRequest.get(req);
  if (!s) throw new Error('signedInSession() on a route without requireRole');
  return s;
}
