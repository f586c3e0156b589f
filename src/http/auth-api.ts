import { createHmac } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { limitKey } from './client-address.ts';
import type { Config } from '../config.ts';
import { AGENT_ROLES } from '../domain/agent.ts';
import { KefuError } from '../errors.ts';
import type { AgentAccounts } from '../handoff/agent-accounts.ts';
import { createRateLimiter, type RateLimiter } from '../conversation/rate-limiter.ts';
import { agentSchema } from './agent-schemas.ts';
import { requireRole, sessionCookie, sessionTokenFrom, signedInSession } from './agent-auth.ts';
import { described, errorResponses } from './schemas.ts';

export interface AuthApiOptions {
  accounts: AgentAccounts;
  config: Config;
  /** The server secret: it keys the hash a refused username is logged as, so a word list cannot be tried against it. */
  secret: string;
  /** Sign-in attempts per address and per username (config.auth.loginAttemptsPerMinute); one of this process's own when absent. */
  limiter?: RateLimiter;
}

const TAGS = ['console sign-in'];
export const CONSOLE_SECURITY: Record<string, string[]>[] = [{ sessionCookie: [] }, { bearerAuth: [] }];

/** Sign in and out of the consoles (agent, trainer, admin): POST /auth/login, POST /auth/logout, GET /auth/me. */
export const authApi: FastifyPluginAsync<AuthApiOptions> = async (fastify, { accounts, config, secret, limiter: given }) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const ttlMs = config.auth.sessionHours * 3_600_000;
  // Per address and per username: a slow trickle of guesses is all anyone gets, from anywhere, at any account.
  const limiter = given ?? createRateLimiter({ perMinute: config.auth.loginAttemptsPerMinute });
  const secure = (req: FastifyRequest): boolean => config.auth.secureCookie === 'always' || (config.auth.secureCookie === 'auto' && req.protocol === 'https');

  app.post('/auth/login', {
    schema: {
      tags: TAGS,
      summary: 'Sign in: sets the HttpOnly session cookie',
      description: 'The cookie serves the console in a browser (REST and the /agent socket). API and socket clients ask for the token with issueToken and send it as `Authorization: Bearer <token>`.',
      body: z.strictObject({
        username: z.string().trim().min(1).max(64),
        password: z.string().min(1).max(200),
        issueToken: described(z.boolean(), 'Also return the session token in the body (for clients that cannot keep cookies)').default(false),
      }),
      response: {
        200: z.object({ agent: agentSchema, expiresAt: z.string(), token: described(z.string(), 'Only when issueToken was set').optional() }),
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const username = req.body.username.toLowerCase();
    for (const key of [`ip:${limitKey(req.ip)}`, `user:${username}`]) {
      const d = await limiter.take(key);
      if (!d.allowed) {
        void reply.header('retry-after', String(d.retryAfterSeconds));
        throw new KefuError('KEFU_RATE_LIMITED', [`too many sign-in attempts; retry in ${d.retryAfterSeconds} s`]);
      }
    }
    let signedIn;
    try {
      signedIn = await accounts.login(username, req.body.password);
    } catch (err) {
      // Hashed: a username field sometimes holds a password typed in the wrong box. The hash still ties attempts together.
      const usernameHash = createHmac('sha256', secret).update(`console-username:${username}`).digest('hex').slice(0, 16);
      req.log.warn({ usernameHash, ip: req.ip }, 'console sign-in refused');
      throw err;
    }
    req.log.info({ agentId: signedIn.agent.id, role: signedIn.agent.role }, 'console sign-in');
    void reply.header('set-cookie', sessionCookie(signedIn.token, { maxAgeSeconds: ttlMs / 1000, secure: secure(req) }));
    void reply.header('cache-control', 'no-store');
    return { agent: signedIn.agent, expiresAt: signedIn.session.expiresAt, ...(req.body.issueToken ? { token: signedIn.token } : {}) };
  });

  app.post('/auth/logout', {
    schema: { tags: TAGS, summary: 'Sign out: ends the session and clears the cookie', security: CONSOLE_SECURITY, response: { 204: z.null(), ...errorResponses } },
  }, async (req, reply) => {
    const token = sessionTokenFrom(req.headers);
    if (token) await accounts.logout(token);
    void reply.header('set-cookie', sessionCookie('', { maxAgeSeconds: 0, secure: secure(req) }));
    return reply.code(204).send(null);
  });

  await app.register(async (scoped) => {
    scoped.addHook('onRequest', requireRole(accounts, AGENT_ROLES, 'use the console'));
    scoped.withTypeProvider<ZodTypeProvider>().get('/auth/me', {
      schema: {
        tags: TAGS, summary: 'Who is signed in', security: CONSOLE_SECURITY,
        response: { 200: z.object({ agent: agentSchema, expiresAt: z.string() }), ...errorResponses },
      },
    }, async (req) => {
      const { agent, session } = signedInSession(req);
      return { agent, expiresAt: session.expiresAt };
    });
  });
};
