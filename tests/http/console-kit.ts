import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { createApp, type AppDeps, type KefuApp } from '../../src/app.ts';
import type { AgentRole } from '../../src/domain/agent.ts';
import type { Outcome, OutcomeKind } from '../../src/domain/types.ts';
import type { Pack, Topic } from '../../src/pack/pack-loader.ts';
import type { Router, RouteState } from '../../src/router/router.ts';
import type { SuggestReplies } from '../../src/router/suggested-replies.ts';
import { testConfig } from './test-app.ts';

// What the handoff tests share: a router whose script names topics of several domains, a pack that files those
// topics under bank / life / common, accounts that sign in, and sockets for customers and agents.

export const PASSWORD = 'Correct-Horse-42';

const THRESHOLDS = { faq: 0.8, nlu: 0.5, clarifyMargin: 0.1, clarifyMin: 0.2 };

/**
 * 盜刷 → fraud.report (handoff), 申訴 → complaint.file (handoff), 真人 → human.agent (handoff), 保單 → policy.info
 * (life), ??? → fallback (a handoff once `maxFallbacks` (2) are in a row, as the real router does), anything else →
 * card.lost (bank). The reply is `回覆:<text>`.
 */
export function handoffRouter(calls: string[] = []): Router {
  const route = (text: string, state: RouteState = { consecutiveFallbacks: 0 }): Outcome => {
    calls.push(text);
    let kind: OutcomeKind = 'answer';
    let topic: string | null = 'card.lost';
    let rule = 'test';
    if (text.includes('盜刷')) (kind = 'handoff'), (topic = 'fraud.report');
    else if (text.includes('申訴')) (kind = 'handoff'), (topic = 'complaint.file');
    else if (text.includes('真人')) (kind = 'handoff'), (topic = 'human.agent');
    else if (text.includes('保單')) topic = 'policy.info';
    else if (text.includes('???')) {
      topic = null;
      kind = state.consecutiveFallbacks + 1 >= 2 ? 'handoff' : 'fallback';
      rule = kind === 'handoff' ? 'repeated-fallback' : 'not-confident';
    }
    return {
      text, outcome: kind, topic, brain: topic ? 'faq' : null, confidence: topic ? 0.9 : 0.1, candidates: topic ? [{ topic, confidence: 0.9 }] : [],
      entities: [], reply: `回覆:${text}`, options: [], needsVerification: false,
      trace: { normalised: text, faq: { candidates: topic ? [{ topic, confidence: 0.9 }] : [] }, nlu: null, rule, thresholds: THRESHOLDS, ms: 0.1 },
    };
  };
  return { thresholds: THRESHOLDS, route, decide: (t, _n, _r, s) => route(t, s) };
}

const topic = (id: string, domain: string, handoff = false): Topic => ({
  id, kind: handoff ? 'intent' : 'faq', domain, title: { 'zh-TW': id }, answer: { 'zh-TW': `answer ${id}` }, phrases: {}, tags: [], related: [],
  entities: [], verify: false, handoff, source: { file: 'test', line: 1 },
});

/** The topics the handoff router names, filed under their domains. */
export const HANDOFF_PACK: Pack = {
  name: 'handoff-test', description: '', locales: ['zh-TW'], domains: ['common', 'bank', 'life'], outOfScope: {}, hash: 'test',
  topics: [
    topic('card.lost', 'bank'), topic('policy.info', 'life'), topic('fraud.report', 'bank', true),
    topic('complaint.file', 'common', true), topic('human.agent', 'common', true),
  ],
};

/** Suggests two canned answers that name the text, so a test can see which message was used. */
export const fakeSuggest: SuggestReplies = (text, k = 3) =>
  [
    { topic: 'card.lost', title: '信用卡遺失', answer: `掛失說明（${text}）`, confidence: 0.91 },
    { topic: 'card.pay', title: '信用卡繳款', answer: '繳款說明', confidence: 0.32 },
  ].slice(0, k);

/** An app with the handoff router, pack and suggester, not listening; `overrides` go to the config. */
export async function consoleApp(overrides: Record<string, unknown> = {}, deps: AppDeps = {}): Promise<KefuApp> {
  return createApp(testConfig(overrides), { router: handoffRouter(), pack: HANDOFF_PACK, suggest: fakeSuggest, log: pino({ level: 'silent' }), ...deps });
}

export interface SignedInAgent {
  id: string;
  username: string;
  displayName: string;
  token: string;
  headers: { authorization: string };
}

/** Creates an account and signs it in through the API (asking for the token, as an API client does). */
export async function signIn(app: KefuApp, username: string, options: { role?: AgentRole; groups?: string[]; name?: string } = {}): Promise<SignedInAgent> {
  const agent = await app.accounts.create({
    username, displayName: options.name ?? username, role: options.role ?? 'agent', groups: options.groups ?? ['bank'], password: PASSWORD,
  });
  const res = await app.fastify.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: PASSWORD, issueToken: true } });
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
  const token = (res.json() as { token: string }).token;
  return { id: agent.id, username, displayName: agent.displayName, token, headers: { authorization: `Bearer ${token}` } };
}

/** The base URL of a started app. */
export const baseUrl = (app: KefuApp): string => `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`;

/** A socket.io client on `namespace` of a started app; resolves once connected, rejects with the connect error. */
export async function openSocket(app: KefuApp, namespace: '/agent' | '/chat', options: { token?: string; headers?: Record<string, string> } = {}): Promise<ClientSocket> {
  const socket = connect(`${baseUrl(app)}${namespace}`, {
    transports: ['websocket'], forceNew: true, reconnection: false,
    ...(options.token ? { auth: { token: options.token } } : {}),
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
  // Everything from the first moment, so a push sent right on connect (the agent's queue) is not missed.
  const log: [string, unknown][] = [];
  received.set(socket, log);
  socket.onAny((event: string, payload: unknown) => log.push([event, payload]));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
  return socket;
}

const received = new WeakMap<ClientSocket, [string, unknown][]>();

/** Records every payload of `event` a socket receives (since it opened), and waits for one that matches. */
export function recorder<T>(socket: ClientSocket, event: string) {
  const seen: T[] = (received.get(socket) ?? []).filter(([e]) => e === event).map(([, p]) => p as T);
  const waiters: (() => void)[] = [];
  socket.on(event, (payload: T) => {
    seen.push(payload);
    for (const w of waiters.splice(0)) w();
  });
  return {
    seen,
    /** The first payload (already seen or still to come) for which `match` holds. */
    next(match: (p: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} matched within ${timeoutMs} ms; saw ${JSON.stringify(seen).slice(0, 500)}`)), timeoutMs);
        const check = (): void => {
          const found = seen.find(match);
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

type Ack = { ok: true; [k: string]: any } | { ok: false; error: { code: string; message: string } };

/** Emits with an acknowledgement. */
export const ask = (socket: ClientSocket, event: string, payload?: unknown): Promise<Ack> =>
  (payload === undefined ? socket.timeout(5000).emitWithAck(event) : socket.timeout(5000).emitWithAck(event, payload)) as Promise<Ack>;
