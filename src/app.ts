import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import rateLimit from '@fastify/rate-limit';
import { Server as SocketServer } from 'socket.io';
import { routingWorkers, type Config } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { assertWellFormedText } from './text/well-formed.ts';
import { maskUrl } from './text/mask-personal-data.ts';
import { settlesWithin } from './time-limit.ts';
import { KefuError, isKefuError } from './errors.ts';
import type { Router } from './router/router.ts';
import type { Store } from './store/store.ts';
import { openStore } from './store/open-store.ts';
import { startEngine, type Engine } from './engine.ts';
import { serializeModel } from './model/build-model.ts';
import { createRoutingPool, type RoutingPool } from './routing/routing-pool.ts';
import { createConversationService, type ConversationService, type TurnRouter } from './conversation/conversation-service.ts';
import { createRateLimiter, type RateDecision, type RateLimiter } from './conversation/rate-limiter.ts';
import { createSharedRateLimiter, sharedRateLimitStore } from './http/shared-rate-limiter.ts';
import { startIdleCloser, type IdleCloser } from './conversation/idle-closer.ts';
import { createConversationTokens, type ConversationTokens } from './http/conversation-token.ts';
import { resolveServerSecret } from './http/server-secret.ts';
import { installErrorHandling, sendKefuError, toKefuError } from './http/error-handler.ts';
import { registerApiDocs } from './http/api-docs.ts';
import { health } from './http/health.ts';
import { createMetrics, metricsRoute } from './http/metrics.ts';
import { addressRateLimit, conversationsApi } from './http/conversations-api.ts';
import { clientAddressReader, limitKey } from './http/client-address.ts';
import { staticPages } from './http/static-pages.ts';
import { agentPages } from './http/agent-pages.ts';
import { attachWebChat, CHAT_NAMESPACE } from '../channels/web/web-chat.ts';
import type { Pack } from './pack/pack-loader.ts';
import type { SuggestReplies } from './router/suggested-replies.ts';
import { createAgentAccounts, type AgentAccounts } from './handoff/agent-accounts.ts';
import { createAgentPresence, type AgentPresence } from './handoff/agent-presence.ts';
import { createHandoffPlacement, topicGroups } from './handoff/handoff-placement.ts';
import { createHandoffService, type HandoffService } from './handoff/handoff-service.ts';
import { authApi } from './http/auth-api.ts';
import { agentApi } from './http/agent-api.ts';
import { trainerApi } from './http/trainer-api.ts';
import { customerHandoffApi } from './http/customer-handoff-api.ts';
import { AGENT_NAMESPACE, attachAgentSocket, sharedViewRoom } from './http/agent-socket.ts';
import { createRoomDirectory, type RoomDirectory } from './http/room-directory.ts';
import { createIdentityVerifier } from './conversation/customer-identity.ts';
import type { SocketCluster } from './http/socket-cluster.ts';
import { createClusterPresence } from './handoff/cluster-presence.ts';

export interface AppDeps {
  /** A store to use instead of opening config.database.path; the caller keeps it (stop() leaves it open). */
  store?: Store;
  /** A router to serve with instead of loading the configured pack's model (tests pass a scripted one). */
  router?: Router;
  log?: Logger;
  /** The pack whose topic domains pick handoff queue groups, when a router is handed in (the loaded model brings its own). */
  pack?: Pack;
  /** Suggested replies for the agent console while the router in service has none of its own (a scripted one). */
  suggest?: SuggestReplies;
  /** How often instances tell each other who is on duty and which consoles' rooms they have (default 10 s; tests shorten it). */
  clusterHeartbeatMs?: number;
}

export interface KefuApp {
  fastify: FastifyInstance;
  io: SocketServer;
  service: ConversationService;
  store: Store;
  tokens: ConversationTokens;
  /** Per-conversation allowance for customer messages, shared by REST and the socket channel. */
  messageLimiter: RateLimiter;
  /** Closes conversations left quiet with the bot (config.conversation.idleCloseMinutes); null when that is off. */
  idleCloser: IdleCloser | null;
  /** The handoff queue, claims and what agents do with conversations. */
  handoff: HandoffService;
  /** Console accounts and sessions. */
  accounts: AgentAccounts;
  /** Agents on duty (with an /agent socket open). */
  presence: AgentPresence;
  log: Logger;
  /** The router in service, or null while the model loads. */
  router(): Router | null;
  /** Worker threads routing customer messages now (0: the main thread routes). */
  routingThreads(): number;
  /**
   * Puts another router in service at once (a newly published model); messages already routing finish on the old one.
   * Suggested replies follow it (its own FAQ brain).
   */
  setRouter(router: Router): void;
  /** Loads the configured pack's model (training it when stale) unless a router is in service; start() calls it. */
  loadModel(): Promise<void>;
  /** Listens on config.server (port 0 picks a free one), then loads the model; /healthz answers meanwhile. */
  start(): Promise<{ host: string; port: number }>;
  /** Graceful stop: refuse new work, let in-flight turns finish (up to shutdownGraceMs), close sockets and the store. */
  stop(): Promise<void>;
}

// Whatever a log line carries, these never leave the process in clear.
const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-kefu-token"]', 'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie', 'headers["x-kefu-token"]', 'token', '*.token',
];

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** A request as its log lines show it: fastify's fields, with personal data in the path or query masked. */
const requestForLog = (req: FastifyRequest | Record<string, unknown>): unknown => {
  // Anything else logged as `req` (a hand-built object) goes through as it is, to the redaction paths.
  if (!('raw' in req) || typeof req.url !== 'string') return req;
  const r = req as FastifyRequest;
  return { method: r.method, url: maskUrl(r.url), host: r.host, remoteAddress: r.ip, remotePort: r.socket?.remotePort };
};

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Whether `limiter` allows one more for `key`: at once from this process's buckets, later from Redis's. */
const allowedBy = (limiter: RateLimiter, key: string): boolean | Promise<boolean> => {
  const d = limiter.take(key);
  return d instanceof Promise ? d.then((x: RateDecision) => x.allowed) : d.allowed;
};

/** Wires config → store → engine → conversation service → HTTP plugins and socket.io; nothing listens until start(). */
export async function createApp(config: Config, deps: AppDeps = {}): Promise<KefuApp> {
  const log = (deps.log ?? createLogger(config)).child({}, { redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, serializers: { req: requestForLog } });

  const { secret, source: secretSource } = resolveServerSecret(config.server.secret, config.database.path);
  if (secretSource === 'generated') log.warn('server.secret (KEFU_SECRET) is not set: generated one and kept it beside the database; set it explicitly when running several instances');
  if (secretSource === 'ephemeral') log.warn('server.secret (KEFU_SECRET) is not set and the database is in memory: tokens last only as long as this process');
  const tokens = createConversationTokens(secret);
  const verifyIdentity = createIdentityVerifier(config.identity, log);

  // Redis first: a start that cannot reach it fails before anything (store, timers, listeners) is left running.
  // Loaded only when asked for: one instance never loads the Redis client.
  const clusterModule = config.redis.url !== undefined ? await import('./http/socket-cluster.ts') : null;
  const cluster: SocketCluster | null = clusterModule && config.redis.url !== undefined
    ? await clusterModule.connectSocketCluster(config.redis.url, `kefu#${config.database.schema}`, log)
    : null;
  if (cluster === null && config.database.kind === 'postgres') {
    log.warn('database.kind is postgres without redis.url: fine for one instance; several would each count only their own agents on duty, and release the customers of agents working on another');
  }
  const ownsStore = deps.store === undefined;
  let store: Store;
  try {
    store = deps.store ?? (await openStore(config, log));
  } catch (err) {
    await cluster?.close();
    throw err;
  }
  if (ownsStore) log.info({ kind: store.kind, synchronous: await store.durability?.().catch(() => undefined) }, 'store opened');

  let current: Router | null = deps.router ?? null;
  let pack: Pack | null = deps.pack ?? null;
  let topicDomains: { pack: Pack; domains: Map<string, string> } | null = null;
  // Topic → pack domain, rebuilt when another pack comes into service.
  const topicDomain = (topic: string): string | null => {
    if (!pack) return null;
    if (topicDomains?.pack !== pack) topicDomains = { pack, domains: new Map(pack.topics.map((t) => [t.id, t.domain])) };
    return topicDomains.domains.get(topic) ?? null;
  };
  const placeHandoff = createHandoffPlacement({
    store, topicDomain, priorityTopics: config.handoff.priorityTopics, sharedDomains: config.handoff.sharedDomains,
  });
  const topicGroup = topicGroups({ topicDomain, sharedDomains: config.handoff.sharedDomains });
  // Routing threads, when config.router.workers asks for them, serve the router loadModel() built (`pooled`);
  // a router put in service by setRouter() routes on the main thread, as does any router while the threads load.
  let pool: RoutingPool | null = null;
  let pooled: Router | null = null;
  const onThreads = (): RoutingPool | null => (pool && pooled !== null && pooled === current && pool.ready() ? pool : null);
  // A request the threads could not answer (a thread died mid-batch, the pool is closing) is routed here instead:
  // the customer's message is stored already and deserves its answer; the router's own refusals stand.
  const threadedRouter = (threads: RoutingPool, local: Router): TurnRouter => ({
    route: (text, state) =>
      threads.route(text, state).catch((err: unknown) => {
        if (isKefuError(err) && err.code !== 'KEFU_NOT_READY') throw err;
        log.warn({ err }, 'routing thread did not answer; routed on the main thread');
        return local.route(text, state);
      }),
  });
  // One clock for every time kefu stores or compares with stored ones: the store's (PostgreSQL's, with several
  // instances), so that an instance whose own clock is off closes nothing early and queues nobody out of turn.
  const wallClock = (): number => store.clock();
  const wallDate = (): Date => new Date(store.clock());
  const service = createConversationService({
    store,
    now: wallClock,
    router: () => {
      if (!current) throw new KefuError('KEFU_NOT_READY', ['the model is still loading']);
      const threads = onThreads();
      return threads ? threadedRouter(threads, current) : current;
    },
    log,
    defaultLocale: config.locale,
    placeHandoff,
    topicGroup,
    readableAfterCloseMinutes: config.conversation.readableAfterCloseMinutes,
  });
  const localPresence = createAgentPresence({ graceMs: config.handoff.releaseAfterSeconds * 1000 });
  // Several instances (Redis): who is on duty is what every instance's consoles add up to.
  // This instance's name among the others (presence, rooms), new at every start.
  const instance = randomUUID();
  const heartbeatMs = deps.clusterHeartbeatMs ?? 10_000;
  const clusterPresence = cluster !== null ? createClusterPresence(localPresence, { instance, heartbeatMs }) : null;
  const presence: AgentPresence = clusterPresence ?? localPresence;
  const accounts = createAgentAccounts({ store, sessionTtlMs: config.auth.sessionHours * 3_600_000, now: wallDate });
  const handoff = createHandoffService({
    // Read from the router in service at each request: a model put in service later suggests from its own FAQ brain.
    store, service, presence, log, config, placeHandoff, now: wallDate, suggest: () => current?.suggest ?? deps.suggest ?? null,
    knownGroups: () => (pack ? pack.domains.filter((d) => !config.handoff.sharedDomains.includes(d)) : []),
  });
  const idleCloser = config.conversation.idleCloseMinutes > 0 ? startIdleCloser({ service, store, log, idleMinutes: config.conversation.idleCloseMinutes, now: wallClock }) : null;
  // With several instances the allowances are kept in Redis, so a load balancer spreading a flood does not multiply them.
  const limiter = (name: string, perMinute: number): RateLimiter => {
    const local = createRateLimiter({ perMinute });
    return cluster ? createSharedRateLimiter({ name, perMinute, cluster, fallback: local, log }) : local;
  };
  const messageLimiter = limiter('messages', config.rateLimit.perConversationPerMinute);
  const startLimiter = limiter('starts', config.rateLimit.startsPerIpPerMinute);
  const socketLimiter = limiter('socket-events', config.rateLimit.socketEventsPerIpPerMinute);
  const loginLimiter = limiter('sign-ins', config.auth.loginAttemptsPerMinute);
  const handshakeAddress = clientAddressReader(config.server.trustProxy);
  // Behind a proxy that kefu does not trust, every customer has the proxy's address and shares its allowances: said
  // once, when the first request shows it, since config cannot know where kefu runs.
  let proxyWarned = config.server.trustProxy !== false;
  const warnIfProxied = (headers: IncomingHttpHeaders): void => {
    if (proxyWarned || headers['x-forwarded-for'] === undefined) return;
    proxyWarned = true;
    log.warn('requests carry X-Forwarded-For but server.trustProxy is false: every customer behind that proxy shares one per-address allowance; list the proxy in server.trustProxy');
  };
  const metrics = createMetrics({ service, store, log, ...(cluster ? { clusterDropped: () => cluster.dropped() } : {}) });
  let stopping = false;
  let closing = false; // past the drain: no new requests

  const fastify: FastifyInstance = Fastify({
    // Typed as fastify's logger so the instance keeps fastify's default generics, which plugins are written against.
    loggerInstance: log as FastifyBaseLogger,
    // A frozen config's list: fastify hands it to proxy-addr, which only reads it.
    trustProxy: config.server.trustProxy as boolean | string[],
    // Refused while closing by the hook below, with kefu's error body.
    return503OnClosing: false,
    // A URL fastify cannot even route (bad percent-encoding, an over-long parameter): the same error body as the rest.
    frameworkErrors: (err, req, reply) => sendKefuError(reply, toKefuError(err, req.id)),
    // Messages are at most a few thousand characters; anything near this is not a chat message.
    bodyLimit: 64 * 1024,
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      // Probes and scrapes come every few seconds from machines; a line each would bury the customers' requests.
      disableRequestLogging: (req) => QUIET_PATHS.has(req.url.split('?')[0] ?? ''),
    }),
  });
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  installErrorHandling(fastify);
  fastify.addHook('onRequest', async (req) => {
    warnIfProxied(req.headers);
    // A request on a kept-alive connection once closing began: refused in kefu's shape (fastify's own 503 is not).
    if (closing) throw new KefuError('KEFU_NOT_READY', ['this server is shutting down; retry (another instance will answer)']);
  });
  // Before every route's schema: text no store can keep as it came is refused, naming the field.
  fastify.addHook('preValidation', async (req) => {
    assertWellFormedText(req.body, 'body');
    assertWellFormedText(req.query, 'querystring');
    assertWellFormedText(req.params, 'params');
  });
  await registerApiDocs(fastify, { version: VERSION, botName: config.brand.bot });
  await fastify.register(health, { store, modelLoaded: () => current !== null, stopping: () => stopping, ...(cluster ? { redisReady: () => cluster.ready() } : {}) });
  await fastify.register(metricsRoute, { metrics });
  // One scope for the customer API, so its per-address limit covers the handoff routes as well as the conversations'.
  await fastify.register(async (api) => {
    await api.register(rateLimit, addressRateLimit(config, cluster ? sharedRateLimitStore(cluster, 'rest-per-address', log) : undefined));
    await api.register(conversationsApi, { service, store, tokens, messageLimiter, startLimiter, config, modelLoaded: () => current !== null, verifyIdentity });
    await api.register(customerHandoffApi, { handoff, tokens, messageLimiter, config });
  }, { prefix: '/api/v1' });
  await fastify.register(authApi, { prefix: '/api/v1', accounts, config, secret, limiter: loginLimiter });
  await fastify.register(agentApi, { prefix: '/api/v1/agent', accounts, handoff, config });
  await fastify.register(trainerApi, { prefix: '/api/v1/trainer', accounts });
  await fastify.register(staticPages, { corsOrigins: config.server.corsOrigins });
  await fastify.register(agentPages);

  const io = new SocketServer(fastify.server, {
    path: '/socket.io',
    // The widget loads the client bundle from /widget/ with CORS headers; socket.io's own copy is not used.
    serveClient: false,
    cors: { origin: config.server.corsOrigins.includes('*') ? '*' : [...config.server.corsOrigins] },
  });
  // With several instances: which consoles' views have a console on any instance (a push to an empty one is skipped).
  let consoleRooms: RoomDirectory | null = null;
  if (cluster) {
    cluster.attach(io);
    clusterPresence?.join(clusterModule!.presenceBus(io.of(AGENT_NAMESPACE), cluster)); // loaded with the cluster
    consoleRooms = createRoomDirectory(io.of(AGENT_NAMESPACE), clusterModule!.roomBus(io.of(AGENT_NAMESPACE), cluster), { instance, tracked: sharedViewRoom, heartbeatMs });
    // Back after Redis was away: pushes from the other instances were missed meanwhile, so every widget and console
    // connected here fetches what it shows again (as each does after a reconnect of its own).
    // When this instance dropped pushes bound for the others' sockets, theirs catch up too.
    cluster.onResync((everywhere) => {
      // First which consoles' rooms are here (a join announced meanwhile may have been lost), then the catch-up.
      consoleRooms?.republish();
      for (const ns of [CHAT_NAMESPACE, AGENT_NAMESPACE]) (everywhere ? io.of(ns) : io.of(ns).local).emit('resync', {});
    });
  }
  // With the default in-memory adapter every socket of a room is in this process; with Redis, on any instance.
  const localRooms = cluster === null;
  const detachWebChat = attachWebChat(io, {
    service,
    store,
    log,
    verifyToken: tokens.verifyConversationToken,
    issueToken: tokens.issueConversationToken,
    // The channel only needs a yes or no; the REST API also uses the retry-after the limiter computes.
    limiter: { take: (key) => allowedBy(messageLimiter, key) },
    addressLimiter: { take: (key) => allowedBy(socketLimiter, key) },
    startLimiter: { take: (key) => allowedBy(startLimiter, key) },
    clientAddress: (socket) => {
      warnIfProxied(socket.request.headers);
      return limitKey(handshakeAddress(socket.request));
    },
    accepting: () => !closing,
    verifyIdentity,
    config,
    handoff,
    localRooms,
    modelLoaded: () => current !== null,
  });
  const detachAgentSocket = attachAgentSocket(io, {
    accounts, handoff, service, presence, store, log, maxTextLength: config.router.maxTextLength, localRooms, ...(consoleRooms ? { rooms: consoleRooms } : {}),
  });

  let loading: Promise<void> | null = null;
  const loadModel = (): Promise<void> => {
    if (current) return Promise.resolve();
    loading ??= startEngine(config, log).then(
      (engine) => {
        current ??= engine.router;
        pack ??= engine.pack;
        log.info({ pack: engine.pack.name, modelVersion: engine.modelVersion, thresholds: engine.thresholds, thresholdsSource: engine.thresholdsSource }, 'model loaded');
        startRoutingThreads(engine);
      },
      (err: unknown) => {
        loading = null; // a later call may try again (after the pack is fixed, say)
        throw err;
      },
    );
    return loading;
  };

  // Not awaited: the main thread answers until the threads have the model (about a second), then they take over.
  const startRoutingThreads = (engine: Engine): void => {
    const threads = routingWorkers(config);
    if (threads === 0 || stopping || current !== engine.router) return;
    pool ??= createRoutingPool({ size: threads, log });
    pool.load({ config, pack: engine.pack, model: serializeModel(engine.model), thresholds: engine.thresholds }).then(
      () => {
        pooled = engine.router;
        log.info({ threads }, 'routing on worker threads');
      },
      (err: unknown) => {
        if (!stopping) log.error({ err }, 'routing threads could not load the model; routing on the main thread');
      },
    );
  };

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log.info('shutting down');
      // Only an instance that was serving has customers to move: a start that failed, or a stop while the model was
      // still loading, has nothing to drain.
      if (config.server.drainSeconds > 0 && current !== null && fastify.server.listening) {
        // Still serving, while /readyz says "stopping": the load balancer takes this instance out before it closes.
        log.info({ drainSeconds: config.server.drainSeconds }, 'draining: /readyz says stopping');
        await new Promise((resolve) => setTimeout(resolve, config.server.drainSeconds * 1000));
      }
      // Closing fastify stops accepting connections at once; requests on open keep-alive connections are refused
      // (KEFU_NOT_READY, below).
      closing = true;
      const closed = fastify.close();
      // Bounded: a sweep waits for a conversation's lock, which a stuck turn could hold.
      if (idleCloser) await settlesWithin(idleCloser.stop(), config.server.shutdownGraceMs);
      const drained = await settlesWithin(service.drain(), config.server.shutdownGraceMs);
      if (!drained) log.warn({ graceMs: config.server.shutdownGraceMs }, 'shutdown grace period over with messages still being answered');
      // Queue notices started by the last turns are written before the store closes.
      await settlesWithin(handoff.idle(), config.server.shutdownGraceMs);
      handoff.dispose();
      presence.dispose();
      consoleRooms?.dispose();
      detachAgentSocket();
      detachWebChat();
      // Disconnects browsers; their upgraded connections would otherwise hold the HTTP server open.
      await io.close();
      await cluster?.close();
      if (!drained) fastify.server.closeAllConnections();
      await pool?.close();
      await closed;
      if (ownsStore) await store.close();
      log.info('stopped');
    })();
    return stopped;
  };

  return {
    fastify,
    io,
    service,
    store,
    tokens,
    idleCloser,
    messageLimiter,
    handoff,
    accounts,
    presence,
    log,
    router: () => current,
    routingThreads: () => onThreads()?.size() ?? 0,
    setRouter(router) {
      current = router;
      log.info('router replaced');
    },
    loadModel,
    async start() {
      let port: number;
      try {
        await fastify.listen({ host: config.server.host, port: config.server.port });
        ({ port } = fastify.server.address() as AddressInfo);
        await loadModel();
      } catch (err) {
        // A port taken or a model that will not load: the store, timers and threads opened so far are closed too.
        await stop();
        throw err;
      }
      return { host: config.server.host, port };
    },
    stop,
  };
}
