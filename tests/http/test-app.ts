import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import { createApp, type AppDeps, type KefuApp } from '../../src/app.ts';
import type { Router } from '../../src/router/router.ts';
import type { Outcome, OutcomeKind } from '../../src/domain/types.ts';
import { SignJWT } from 'jose';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop';
/** What the test bank's site signs identity tokens with. */
export const IDENTITY_SECRET = 'bank-site-identity-0123456789-abcdefgh';

/** An identity token as the bank's site would sign it for kefu (HS256, aud kefu, ten minutes' life unless told otherwise). */
export async function identityToken(sub: string, claims: Record<string, unknown> = {}, options: { secret?: string; expiresIn?: string | number; issuedAt?: number } = {}): Promise<string> {
  return new SignJWT({ aud: 'kefu', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(new TextEncoder().encode(options.secret ?? IDENTITY_SECRET));
}

/**
 * A scripted router, so HTTP tests read as conversations without training a model: 真人/盜刷 hand off, ??? falls
 * back, 爆炸 is a bug in the router, anything else is answered as card.lost by the FAQ brain.
 */
export function scriptedRouter(calls: string[] = []): Router {
  const route = (text: string): Outcome => {
    if (text.includes('爆炸')) throw new Error('router exploded: SELECT * FROM secrets');
    calls.push(text);
    const kind: OutcomeKind = text.includes('真人') || text.includes('盜刷') ? 'handoff' : text.includes('???') ? 'fallback' : 'answer';
    return {
      text, outcome: kind, topic: kind === 'fallback' ? null : 'card.lost', brain: kind === 'fallback' ? null : 'faq', confidence: 0.9, candidates: [],
      entities: [], reply: `回覆:${text}`, options: kind === 'fallback' ? [{ topic: 'card.pay', title: '信用卡繳款方式' }] : [], needsVerification: false,
      trace: { normalised: text, faq: null, nlu: null, rule: 'test', thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, ms: 0 },
    };
  };
  return { thresholds: { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 }, route, decide: (t) => route(t) };
}

/** Config for a test app: in-memory store, a fixed secret, no port; `overrides` are merged deeply. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const base: Record<string, unknown> = {
    logLevel: 'silent', database: { path: ':memory:' }, server: { port: 0, secret: TEST_SECRET }, identity: { secret: IDENTITY_SECRET },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const prev = base[k];
    base[k] = prev && typeof prev === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? { ...prev, ...v } : v;
  }
  return loadConfig({ overrides: base });
}

/** A logger that keeps every line it writes, to check what reaches the logs. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

/** An app on a scripted router (unless deps say otherwise), not listening; tests use fastify.inject. */
export async function testApp(overrides: Record<string, unknown> = {}, deps: AppDeps = {}): Promise<KefuApp> {
  return createApp(testConfig(overrides), { router: scriptedRouter(), log: pino({ level: 'silent' }), ...deps });
}

/** Starts a conversation through the API; returns its id, token and the auth header to send. */
export async function startConversation(app: KefuApp, body: Record<string, unknown> = {}) {
  const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/conversations', payload: body });
  if (res.statusCode !== 201) throw new Error(`start failed: ${res.statusCode} ${res.body}`);
  const json = res.json() as { conversation: { id: string }; token: string; messages: { id: string; text: string; author: string; seq: number }[] };
  return { id: json.conversation.id, token: json.token, headers: { authorization: `Bearer ${json.token}` }, json };
}
