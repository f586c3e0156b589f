import { availableParallelism } from 'node:os';
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import proxyAddr from '@fastify/proxy-addr';
import { KefuError } from './errors.ts';
import { LOCALES } from './domain/types.ts';
import { POSTGRES_SCHEMA_PATTERN } from './store/postgres-schema-name.ts';

/** Why proxy-addr (what fastify trusts X-Forwarded-For with) refuses a list of proxies, or null when it takes it. */
function trustListProblem(list: string[]): string | null {
  try {
    proxyAddr.compile(list);
    return null;
  } catch (err) {
    return `not an address, CIDR range or proxy-addr name: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export const thresholdsSchema = z.strictObject({
  /** FAQ brain answers on its own at or above this calibrated confidence. */
  faq: z.number().min(0).max(1),
  /** The best topic is answered at or above this confidence. */
  nlu: z.number().min(0).max(1),
  /** When the runner-up is within this margin of the best, ask which one was meant. */
  clarifyMargin: z.number().min(0).max(1),
  /** A candidate is offered in a clarify or as a suggestion only at or above this confidence. */
  clarifyMin: z.number().min(0).max(1),
});
export type Thresholds = z.infer<typeof thresholdsSchema>;

export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze({ faq: 0.8, nlu: 0.5, clarifyMargin: 0.15, clarifyMin: 0.2 });

export const configSchema = z.strictObject({
  /** Folder holding pack.yaml and one folder per domain. */
  packDir: z.string().min(1).default('intents'),
  /** Where trained models are written and read. */
  modelDir: z.string().min(1).default('training/models'),
  reportDir: z.string().min(1).default('training/reports'),
  /** Written by `npm run evaluate`; read at start so tuned thresholds are used without hand edits. */
  thresholdsFile: z.string().min(1).default('training/thresholds.json'),
  locale: z.enum(LOCALES).default('zh-TW'),
  router: z
    .strictObject({
      thresholds: thresholdsSchema.partial().default({}),
      /** Fallbacks in a row after which the conversation is handed to a human. */
      maxFallbacks: z.number().int().min(1).max(10).default(2),
      maxTextLength: z.number().int().min(1).max(20_000).default(2000),
      /**
       * Worker threads that route customer messages beside the main thread ('auto': one per core beyond the first,
       * at most 4; 0 routes on the main thread).
       */
      workers: z.union([z.literal('auto'), z.number().int().min(0).max(16)]).default('auto'),
    })
    .default({ thresholds: {}, maxFallbacks: 2, maxTextLength: 2000, workers: 'auto' }),
  brand: z
    .strictObject({
      bot: z.string().min(1).default('小福'),
      bank: z.string().min(1).default('凱福銀行'),
      insurer: z.string().min(1).default('凱福人壽'),
      bank_hotline: z.string().min(1).default('0800-000-123'),
      life_hotline: z.string().min(1).default('0800-000-456'),
    })
    .default({ bot: '小福', bank: '凱福銀行', insurer: '凱福人壽', bank_hotline: '0800-000-123', life_hotline: '0800-000-456' }),
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(3000),
      /** Origins allowed to embed the widget and open its socket; '*' allows any. */
      corsOrigins: z.array(z.string().min(1)).default(['*']),
      /** How long shutdown waits for in-flight messages before closing anyway. */
      shutdownGraceMs: z.number().int().min(0).max(120_000).default(10_000),
      /**
       * Behind a load balancer: how long shutdown keeps serving with /readyz saying "stopping" before it stops
       * accepting, so the balancer sends new customers elsewhere first (set it above the balancer's check interval).
       */
      drainSeconds: z.number().int().min(0).max(300).default(0),
      /**
       * Key that signs conversation access tokens. Unset, a random one is made at start-up (and a warning logged),
       * so tokens handed out before a restart stop working: set it in production.
       */
      secret: z.string().min(32, 'must be at least 32 characters').optional(),
      /**
       * Which reverse proxies' X-Forwarded-For to believe, so per-address limits see the customer's address, not the
       * proxy's: false (none), a list of the proxies' addresses or CIDR ranges (or proxy-addr's names loopback,
       * linklocal, uniquelocal), or true for every hop, which is right only when every request comes through a proxy
       * that overwrites the header (with true, a client that reaches kefu directly chooses its own address).
       */
      trustProxy: z
        .union([
          z.boolean(),
          z
            .array(z.string().trim().min(1))
            .min(1)
            .superRefine((list, ctx) => {
              const problem = trustListProblem(list);
              if (problem) ctx.addIssue({ code: 'custom', message: problem });
            }),
        ])
        .default(false),
    })
    .default({ host: '127.0.0.1', port: 3000, corsOrigins: ['*'], shutdownGraceMs: 10_000, drainSeconds: 0, trustProxy: false }),
  database: z
    .strictObject({
      /** sqlite: one process, nothing to install (the default); postgres: several instances sharing one database. */
      kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
      /** SQLite file; its folder survives restarts. */
      path: z.string().min(1).default('data/kefu.sqlite'),
      /** SQLite on a thread of its own, off the thread that serves sockets ('auto': when there is a second core). */
      thread: z.union([z.literal('auto'), z.boolean()]).default('auto'),
      /**
       * When a SQLite commit counts as written. full: an answered message survives a crash of the process, the OS or
       * the power, at an fsync per commit (one commit carries every turn that arrived with it; in bench:chat the same
       * throughput and p99 as normal, p50 +0.7 ms). normal: of the process only (an OS crash or a power cut can lose
       * the last commits), for disks whose fsync is slow. PostgreSQL's is its own setting (synchronous_commit).
       */
      synchronous: z.enum(['normal', 'full']).default('full'),
      /** PostgreSQL connection string (postgres://user:password@host:5432/database); required with kind postgres. */
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string').optional(),
      /** The PostgreSQL schema kefu's tables live in, created at start when missing. */
      schema: z.string().regex(POSTGRES_SCHEMA_PATTERN, 'must be a lower-case name (letters, digits, _)').default('kefu'),
      /** PostgreSQL connections per instance. */
      poolSize: z.number().int().min(1).max(200).default(10),
    })
    .default({ kind: 'sqlite', path: 'data/kefu.sqlite', thread: 'auto', synchronous: 'full', schema: 'kefu', poolSize: 10 }),
  identity: z
    .strictObject({
      /**
       * Key the bank's site signs identity tokens with (a JWT, HS256): a widget embedded on pages where the customer
       * is signed in passes one, and kefu then knows who the customer is rather than taking the client's word, and
       * shows agents the profile the token carries. Unset, identity tokens are refused. Not the server's own secret.
       */
      secret: z.string().min(32, 'must be at least 32 characters').optional(),
      /**
       * Instead of the secret: a PEM file with the public half of the key the bank's site signs with (EC P-256 →
       * ES256, P-384 → ES384, RSA → RS256/PS256, Ed25519 → EdDSA). kefu then holds nothing that could sign a token.
       */
      publicKeyFile: z.string().min(1).optional(),
      /** The `aud` every token must name (a token the bank signed for another of its services is refused). */
      audience: z.string().trim().min(1).default('kefu'),
      /** The `iss` every token must name, when set. */
      issuer: z.string().trim().min(1).optional(),
      /**
       * Oldest a token may be (since its iat): a leaked one is of use for at most this long. Pages that stay open
       * longer give the widget data-identity-url, from which it fetches a fresh token when it starts a conversation.
       */
      maxAgeMinutes: z.number().int().min(1).max(24 * 60).default(15),
    })
    .default({ audience: 'kefu', maxAgeMinutes: 15 }),
  redis: z
    .strictObject({
      /**
       * Redis for several instances (redis://host:6379): socket.io pushes reach every instance's sockets, and the
       * instances tell each other of queue changes. Needs database.kind postgres; unset, everything is in-process.
       */
      url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
    })
    .default({}),
  rateLimit: z
    .strictObject({
      /** Requests per IP per minute across the REST API. */
      perIpPerMinute: z.number().int().min(1).default(600),
      /** Customer messages per conversation per minute (REST and socket together). */
      perConversationPerMinute: z.number().int().min(1).default(30),
      /**
       * Socket events per address per minute on the web chat (a budget of its own beside the REST API's): whatever
       * the event, so a flood of starts, handoffs or history reads is refused like a flood of messages.
       */
      socketEventsPerIpPerMinute: z.number().int().min(1).default(600),
      /**
       * New conversations per address per minute (REST and socket together): a new conversation per message would
       * otherwise escape the per-conversation limit, and each can join the agents' queue. Raise it for customers
       * behind one address (a carrier's NAT).
       */
      startsPerIpPerMinute: z.number().int().min(1).default(60),
    })
    .default({ perIpPerMinute: 600, perConversationPerMinute: 30, socketEventsPerIpPerMinute: 600, startsPerIpPerMinute: 60 }),
  conversation: z
    .strictObject({
      /**
       * A conversation with the bot that has been quiet this long is closed, with a notice, so that it does not stay
       * open for ever (and on a shared computer the next person starts afresh); 0 never closes one. Conversations
       * waiting for or held by a person are the agents' to close.
       */
      idleCloseMinutes: z.number().int().min(0).max(7 * 24 * 60).default(30),
      /**
       * How long after a conversation closes its customer's side (the token the widget or app holds) may still read
       * its history and rate it; after that, 410. A token does not expire by itself: this is what stops one left in a
       * shared browser, or found later, from showing a closed conversation. 0 refuses as soon as it closes.
       */
      readableAfterCloseMinutes: z.number().int().min(0).max(30 * 24 * 60).default(60),
    })
    .default({ idleCloseMinutes: 30, readableAfterCloseMinutes: 60 }),
  handoff: z
    .strictObject({
      /** Topics served before every other handoff, with their priority (higher first); any other topic gets 0. */
      priorityTopics: z.record(z.string().min(1), z.number().int().min(0).max(9)).default({ 'fraud.report': 1, 'complaint.file': 1 }),
      /** Pack domains with no queue group of their own: their handoffs wait in the default group, which every agent serves. */
      sharedDomains: z.array(z.string().min(1)).default(['common']),
      /** Handling time assumed for the wait estimate until the group has recent conversations to measure. */
      defaultHandlingSeconds: z.number().int().min(10).max(7200).default(300),
      /** Conversations an agent serves at once, for the wait estimate. */
      chatsPerAgent: z.number().int().min(1).max(20).default(2),
      /** The live list (bot-held conversations an agent may pull) shows those active within this many minutes. */
      liveWindowMinutes: z.number().int().min(1).max(24 * 60).default(30),
      /**
       * An agent whose every console has been closed this long is gone: the conversations they hold go back to the
       * front of the queue. Long enough for a reload or a network blip; signing out releases them at once.
       */
      releaseAfterSeconds: z.number().min(0).max(3600).default(60),
    })
    .default({
      priorityTopics: { 'fraud.report': 1, 'complaint.file': 1 }, sharedDomains: ['common'], defaultHandlingSeconds: 300, chatsPerAgent: 2, liveWindowMinutes: 30,
      releaseAfterSeconds: 60,
    }),
  auth: z
    .strictObject({
      /** How long a console sign-in lasts. */
      sessionHours: z.number().min(0.05).max(24 * 30).default(12),
      /** Sign-in attempts per minute, per address and per username, so passwords cannot be guessed at speed. */
      loginAttemptsPerMinute: z.number().int().min(1).max(1000).default(10),
      /** The session cookie's Secure flag: auto sets it when the request came over HTTPS (see server.trustProxy). */
      secureCookie: z.enum(['auto', 'always', 'never']).default('auto'),
    })
    .default({ sessionHours: 12, loginAttemptsPerMinute: 10, secureCookie: 'auto' }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof configSchema>>;
export type Brand = Config['brand'];

const ENV_MAP: Record<string, (v: string, c: Record<string, unknown>) => void> = {
  KEFU_PACK_DIR: (v, c) => (c.packDir = v),
  KEFU_MODEL_DIR: (v, c) => (c.modelDir = v),
  KEFU_LOCALE: (v, c) => (c.locale = v),
  KEFU_LOG_LEVEL: (v, c) => (c.logLevel = v),
  KEFU_HOST: (v, c) => (((c.server ??= {}) as Record<string, unknown>).host = v),
  KEFU_PORT: (v, c) => (((c.server ??= {}) as Record<string, unknown>).port = Number(v)),
  PORT: (v, c) => (((c.server ??= {}) as Record<string, unknown>).port ??= Number(v)),
  KEFU_DB_PATH: (v, c) => (((c.database ??= {}) as Record<string, unknown>).path = v),
  KEFU_DB_KIND: (v, c) => (((c.database ??= {}) as Record<string, unknown>).kind = v),
  KEFU_DB_URL: (v, c) => (((c.database ??= {}) as Record<string, unknown>).url = v),
  KEFU_DB_SCHEMA: (v, c) => (((c.database ??= {}) as Record<string, unknown>).schema = v),
  KEFU_REDIS_URL: (v, c) => (((c.redis ??= {}) as Record<string, unknown>).url = v),
  // Anything but auto, true/1 or false/0 goes to the schema as it is, which names it, rather than meaning false.
  KEFU_DB_THREAD: (v, c) => (((c.database ??= {}) as Record<string, unknown>).thread = /^(true|1)$/i.test(v) ? true : /^(false|0)$/i.test(v) ? false : v),
  KEFU_DB_SYNCHRONOUS: (v, c) => (((c.database ??= {}) as Record<string, unknown>).synchronous = v.toLowerCase()),
  KEFU_DRAIN_SECONDS: (v, c) => (((c.server ??= {}) as Record<string, unknown>).drainSeconds = Number(v)),
  KEFU_BRAND_BOT: (v, c) => ((c.brand ??= {}) as Record<string, unknown>).bot = v,
  KEFU_SECRET: (v, c) => (((c.server ??= {}) as Record<string, unknown>).secret = v),
  KEFU_IDENTITY_SECRET: (v, c) => (((c.identity ??= {}) as Record<string, unknown>).secret = v),
  KEFU_IDENTITY_PUBLIC_KEY_FILE: (v, c) => (((c.identity ??= {}) as Record<string, unknown>).publicKeyFile = v),
  KEFU_CORS_ORIGINS: (v, c) => (((c.server ??= {}) as Record<string, unknown>).corsOrigins = v.split(',').map((o) => o.trim()).filter(Boolean)),
  KEFU_ROUTING_WORKERS: (v, c) => (((c.router ??= {}) as Record<string, unknown>).workers = v === 'auto' ? v : Number(v)),
  // true/1 and false/0 as before; anything else is a comma-separated list of proxy addresses or ranges.
  KEFU_TRUST_PROXY: (v, c) =>
    (((c.server ??= {}) as Record<string, unknown>).trustProxy = /^(true|1)$/i.test(v.trim())
      ? true
      : /^(false|0|)$/i.test(v.trim())
        ? false
        : v.split(',').map((a) => a.trim()).filter(Boolean)),
};

/** Builds the one frozen config from defaults, an optional JSON config file, then KEFU_* environment variables. */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown>; cwd?: string } = {}): Config {
  const env = options.env ?? {};
  const cwd = options.cwd ?? process.cwd();
  let raw: Record<string, unknown> = {};
  const file = options.file ?? env.KEFU_CONFIG;
  if (file) {
    const path = resolve(cwd, file);
    if (!existsSync(path)) throw new KefuError('KEFU_CONFIG_INVALID', [`config file ${path} does not exist`]);
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new KefuError('KEFU_CONFIG_INVALID', [`${path}: ${(e as Error).message}`], { cause: e });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new KefuError('KEFU_CONFIG_INVALID', [`${path}: must hold one JSON object ({ "server": { … }, … })`]);
  }
  for (const [k, apply] of Object.entries(ENV_MAP)) {
    const v = env[k];
    if (v !== undefined && v !== '') apply(v, raw);
  }
  // Deep, so that an override such as `{ server: { port } }` (from --port) keeps the file's other server settings.
  raw = mergeDeep(raw, options.overrides ?? {});
  const res = configSchema.safeParse(raw);
  if (!res.success) {
    const details = res.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`);
    throw new KefuError('KEFU_CONFIG_INVALID', [details.join('; ')], { details });
  }
  const c = res.data;
  if (c.redis.url !== undefined && c.database.kind !== 'postgres') {
    // Instances on SQLite each have a database of their own: sharing their sockets would mix conversations up.
    throw new KefuError('KEFU_CONFIG_INVALID', ['redis.url: several instances need one shared database: set database.kind to postgres (KEFU_DB_KIND)']);
  }
  if (c.identity.secret !== undefined && c.identity.secret === c.server.secret) {
    // The bank's web servers hold the identity secret; with it they could also make any conversation's token.
    throw new KefuError('KEFU_CONFIG_INVALID', ['identity.secret: must differ from server.secret (the bank\'s site holds it)']);
  }
  if (c.database.kind === 'postgres') {
    const problems = [
      ...(c.database.url === undefined ? ['database.url: required when database.kind is postgres (KEFU_DB_URL)'] : []),
      // Each instance would otherwise sign conversation tokens with a secret of its own, which the others refuse.
      ...(c.server.secret === undefined ? ['server.secret: required when database.kind is postgres, the same on every instance (KEFU_SECRET)'] : []),
    ];
    if (problems.length > 0) throw new KefuError('KEFU_CONFIG_INVALID', [problems.join('; ')], { details: problems });
  }
  const abs = (p: string): string => resolve(cwd, p);
  return deepFreeze({
    ...c,
    packDir: abs(c.packDir), modelDir: abs(c.modelDir), reportDir: abs(c.reportDir), thresholdsFile: abs(c.thresholdsFile),
    database: { ...c.database, path: c.database.path === ':memory:' ? ':memory:' : abs(c.database.path) },
    identity: { ...c.identity, ...(c.identity.publicKeyFile !== undefined ? { publicKeyFile: abs(c.identity.publicKeyFile) } : {}) },
  });
}

/**
 * Cores this process may use: the machine's, or fewer when a container's CPU quota says so (cgroup v2 `cpu.max`,
 * else v1's cfs quota). Node 20's availableParallelism() counts the host's cores, so a pod limited to one CPU on a
 * 16-core host would otherwise start four routing threads, each with its own copy of the model.
 */
export function usableCores(readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  const cores = availableParallelism();
  const quota = (text: string, period?: string): number | null => {
    const [q, p] = period === undefined ? text.trim().split(/\s+/) : [text.trim(), period.trim()];
    const n = Number(q);
    const d = Number(p);
    return q === 'max' || !(n > 0) || !(d > 0) ? null : n / d;
  };
  let limit: number | null = null;
  try {
    limit = quota(readFile('/sys/fs/cgroup/cpu.max'));
  } catch {
    try {
      limit = quota(readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
    } catch {
      // No cgroup CPU files (not Linux, or not in a container): the machine's count stands.
    }
  }
  return limit === null ? cores : Math.max(1, Math.min(cores, Math.floor(limit)));
}

/** Whether the SQLite store runs on a thread of its own on this machine. */
export function storeOnThread(config: Config): boolean {
  const t = config.database.thread;
  return t === 'auto' ? usableCores() > 1 : t;
}

/** How many routing threads config.router.workers asks for on this machine. */
export function routingWorkers(config: Config): number {
  const w = config.router.workers;
  return w === 'auto' ? Math.min(4, Math.max(0, usableCores() - 1)) : w;
}

/** Thresholds in force: the defaults, then those `npm run evaluate` tuned for this pack, then the config file's. */
export function resolveThresholds(config: Config, pack: { name: string; hash: string }): { thresholds: Thresholds; source: string } {
  let tuned: Partial<Thresholds> = {};
  let source = 'defaults';
  if (existsSync(config.thresholdsFile)) {
    try {
      const data = JSON.parse(readFileSync(config.thresholdsFile, 'utf8')) as { pack?: string; packHash?: string; thresholds?: unknown };
      const parsed = thresholdsSchema.safeParse(data.thresholds);
      // Thresholds tuned for another pack say nothing about this one; for an edited version of this pack they
      // are still the best guess until it is evaluated again.
      if (parsed.success && data.pack === pack.name) {
        tuned = parsed.data;
        source = data.packHash === pack.hash ? 'tuned' : 'tuned (for an older version of the pack)';
      } else if (parsed.success) {
        source = `defaults (the thresholds file is for pack ${String(data.pack)})`;
      }
    } catch {
      // A damaged thresholds file must not stop the bot; the defaults still hold and the source says so.
      source = 'defaults (thresholds file unreadable)';
    }
  }
  const fromConfig = config.router.thresholds;
  if (Object.keys(fromConfig).length > 0) source += ' + config';
  return { thresholds: { ...DEFAULT_THRESHOLDS, ...tuned, ...fromConfig }, source };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? mergeDeep(prev, v) : v;
  }
  return out;
}


function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
