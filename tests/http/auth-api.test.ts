import { createHash } from 'node:crypto';
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { KefuApp } from '../../src/app.ts';
import { consoleApp, PASSWORD } from './console-kit.ts';
import { capturingLogger } from './test-app.ts';

describe('console sign-in API', () => {
  let app: KefuApp;
  beforeEach(async () => {
    app = await consoleApp({ auth: { loginAttemptsPerMinute: 5 } });
    await app.accounts.create({ username: 'xiaomei', displayName: '小美', role: 'agent', groups: ['bank', 'life'], password: PASSWORD });
  });
  afterEach(async () => {
    await app.stop();
  });

  const login = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    app.fastify.inject({ method: 'POST', url: '/api/v1/auth/login', payload, headers });

  it('signs in with an HttpOnly, SameSite=Strict session cookie that the console routes accept', async () => {
    const res = await login({ username: 'XiaoMei', password: PASSWORD });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ agent: { username: 'xiaomei', displayName: '小美', role: 'agent', groups: ['bank', 'life'] }, expiresAt: expect.any(String) });
    expect(res.json()).not.toHaveProperty('token');
    expect(JSON.stringify(res.json())).not.toMatch(/scrypt|password/i);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^kefu_session=ks1\.[\w-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const session = cookie.split(';')[0]!;
    const me = await app.fastify.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `other=1; ${session}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json().agent.lastLoginAt).not.toBeNull();
    expect((await app.fastify.inject({ method: 'GET', url: '/api/v1/agent/queue', headers: { cookie: session } })).statusCode).toBe(200);
    // Only a hash of the token is stored.
    const token = session.split('=')[1]!;
    expect(await app.store.getSession(token)).toBeNull();
  });

  it('marks the cookie Secure behind HTTPS and hands the token to API clients that ask', async () => {
    const secure = await consoleApp({ auth: { secureCookie: 'always' } });
    await secure.accounts.create({ username: 'api', displayName: 'API', role: 'agent', groups: [], password: PASSWORD });
    const res = await secure.fastify.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'api', password: PASSWORD, issueToken: true } });
    expect(String(res.headers['set-cookie'])).toMatch(/; Secure$/);
    expect(res.json().token).toMatch(/^ks1\./);
    expect((await secure.fastify.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${res.json().token}` } })).statusCode).toBe(200);
    await secure.stop();
  });

  it('says the same thing for a wrong password, an unknown user and a disabled account', async () => {
    await app.accounts.create({ username: 'gone', displayName: 'Gone', role: 'agent', groups: [], password: PASSWORD });
    await app.accounts.setDisabled('gone', true);
    for (const body of [{ username: 'xiaomei', password: 'Wrong-Horse-42' }, { username: 'nobody', password: PASSWORD }, { username: 'gone', password: PASSWORD }]) {
      const res = await login(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(401);
      expect(res.json().error).toEqual({ code: 'KEFU_LOGIN_FAILED', message: 'Wrong username or password', details: [] });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect((await login({ username: 'xiaomei' })).statusCode).toBe(400);
  });

  it('logs a refused sign-in without the username in clear (it is sometimes a password typed in the wrong box)', async () => {
    await app.stop();
    const { log, lines } = capturingLogger();
    app = await consoleApp({ logLevel: 'info' }, { log });
    expect((await login({ username: 'Correct-Horse-99', password: 'x'.repeat(12) })).statusCode).toBe(401);
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'console sign-in refused');
    expect(refused).toMatchObject({ usernameHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // Keyed with the server secret: not a plain hash that a word list could be checked against.
    expect(refused!.usernameHash).not.toBe(createHash('sha256').update('correct-horse-99').digest('hex').slice(0, 16));
    expect(lines.join('\n')).not.toMatch(/correct-horse-99/i);
  });

  it('slows down guessing: a few attempts a minute per address and per username', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await login({ username: 'xiaomei', password: `Wrong-Horse-${i}` })).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429]);
    const limited = await login({ username: 'xiaomei', password: PASSWORD });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('signs out: the session ends and the cookie is cleared', async () => {
    const res = await login({ username: 'xiaomei', password: PASSWORD, issueToken: true });
    const auth = { authorization: `Bearer ${res.json().token}` };
    const out = await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: auth });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^kefu_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
    const me = await app.fastify.inject({ method: 'GET', url: '/api/v1/auth/me', headers: auth });
    expect(me.statusCode).toBe(401);
    expect(me.headers['www-authenticate']).toBe('Bearer realm="kefu"');
    // Signing out without a session is harmless.
    expect((await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/logout' })).statusCode).toBe(204);
  });
});
