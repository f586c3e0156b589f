import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { LOCALES } from '../domain/types.ts';
import { KefuError } from '../errors.ts';
import type { ConversationService } from '../conversation/conversation-service.ts';
import type { RateLimiter } from '../conversation/rate-limiter.ts';
import { startConversationWithWelcome } from '../conversation/welcome-message.ts';
import { VOUCHED_PREFIX, type IdentityVerifier } from '../conversation/customer-identity.ts';
import type { Store } from '../store/store.ts';
import { maskPersonalData } from '../text/mask-personal-data.ts';
import { isWellFormedToken, tokenFromHeaders, type ConversationTokens } from './conversation-token.ts';
import { allowCrossOrigin } from './cors.ts';
import { limitKey } from './client-address.ts';
import { conversationSchema, described, errorResponses, messageSchema, publicConversation, publicMessage } from './schemas.ts';

export interface ConversationsApiOptions {
  service: ConversationService;
  store: Store;
  tokens: ConversationTokens;
  /** Per-conversation allowance for customer messages, shared with the socket channel. */
  messageLimiter: RateLimiter;
  /** Per-address allowance for new conversations, shared with the socket channel. */
  startLimiter: RateLimiter;
  config: Config;
  /** False while the model is loading: customer messages get 503 rather than being stored unanswered. */
  modelLoaded: () => boolean;
  /** Checks the bank's identity tokens (shared with the socket channel). */
  verifyIdentity: IdentityVerifier;
}

const SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { kefuToken: [] }];
const TAGS = ['conversations'];

const idParams = z.object({ id: described(z.string().min(1).max(100), 'Conversation id') });

/**
 * @fastify/rate-limit's options for the customer API: every request of it (this plugin and customerHandoffApi,
 * registered in one scope under them) from one address shares one allowance. Probes, metrics and consoles are
 * outside it.
 */
export const addressRateLimit = (config: Config, store?: RateLimitPluginOptions['store']): RateLimitPluginOptions => ({
  ...(store ? { store } : {}),
  max: config.rateLimit.perIpPerMinute,
  timeWindow: 60_000,
  keyGenerator: (req) => limitKey(req.ip),
  errorResponseBuilder: (_req, ctx) =>
    new KefuError('KEFU_RATE_LIMITED', [`at most ${ctx.max} requests a minute from one address; retry in ${ctx.after}`]),
});

/** The customer API under /api/v1: start a conversation, send messages, read history, rate, ask for a person. */
export const conversationsApi: FastifyPluginAsync<ConversationsApiOptions> = async (fastify, opts) => {
  const { service, store, tokens, config } = opts;
  allowCrossOrigin(fastify, config.server.corsOrigins);
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  const startBody = z
    .strictObject({
      channel: z.enum(['api', 'web']).default('api'),
      customerId: described(
        z
          .string()
          .trim()
          .min(1)
          .max(200)
          .refine((v) => maskPersonalData(v) === v, 'must not be personal data (an ID, phone, card or account number, e-mail); use an opaque id')
          .refine((v) => !v.startsWith(VOUCHED_PREFIX), `must not start with ${VOUCHED_PREFIX} (ids the bank vouches for, from identityToken)`),
        'Your stable id for the customer; kefu makes one up when absent',
      ).optional(),
      identityToken: described(
        z.string().trim().min(1).max(4096),
        "The bank's word for who the customer is: a JWT (HS256, signed with identity.secret) with `sub` (the customer id), `iat`, `exp`, and optionally `name` and `profile` for agents. Replaces customerId",
      ).optional(),
      locale: z.enum(LOCALES).optional(),
      resume: described(
        z.boolean(),
        "Continue the customer's open conversation on this channel instead of starting one. Only honoured when the request also carries that conversation's token",
      ).default(false),
    });
  const startResponse = z.object({
    conversation: conversationSchema,
    messages: described(z.array(messageSchema), 'The greeting for a new conversation; the history for a resumed one'),
    token: described(z.string(), 'Send as `Authorization: Bearer <token>` on every /conversations/{id} call'),
    resumed: z.boolean(),
  });

  app.post('/conversations', {
    schema: {
      tags: TAGS,
      summary: 'Start (or resume) a conversation',
      body: startBody,
      response: { 200: startResponse, 201: startResponse, ...errorResponses },
    },
    // Every field is optional, so a POST without a body means "all defaults" (fastify hands the schema null).
    preValidation: async (req) => {
      req.body ??= {} as typeof req.body;
    },
  }, async (req, reply) => {
    const allowance = await opts.startLimiter.take(limitKey(req.ip));
    if (!allowance.allowed) {
      void reply.header('retry-after', String(allowance.retryAfterSeconds));
      throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.startsPerIpPerMinute} new conversations a minute from one address; retry in ${allowance.retryAfterSeconds} s`]);
    }
    const { channel, locale } = req.body;
    if (req.body.identityToken !== undefined && req.body.customerId !== undefined) {
      throw new KefuError('KEFU_VALIDATION', ["customerId: not with identityToken, whose subject is the customer; send one or the other"]);
    }
    const vouched = req.body.identityToken === undefined ? undefined : await opts.verifyIdentity(req.body.identityToken);
    const customerId = vouched?.customerId ?? req.body.customerId ?? `anon-${randomUUID()}`;
    const start = (resume: boolean) =>
      startConversationWithWelcome({ service, store, brand: config.brand }, { channel, customerId, locale, resume, ...(vouched ? { vouched } : {}) });
    // Resuming by customerId alone would let anyone who knows (or guesses) a customer's id read their conversation,
    // so the caller must also hold the token of the very conversation found (checked on it, not on an earlier
    // lookup that another request could have made stale); otherwise a new conversation starts.
    let r = await start(req.body.resume && (req.body.customerId !== undefined || vouched !== undefined));
    if (r.resumed && !tokens.verifyConversationToken(r.conversation.id, tokenFromHeaders(req.headers))) r = await start(false);
    return reply.code(r.resumed ? 200 : 201).send({
      conversation: publicConversation(r.conversation),
      messages: r.messages.map(publicMessage),
      token: tokens.issueConversationToken(r.conversation.id),
      resumed: r.resumed,
    });
  });

  // Everything about one conversation needs its token; checked before the body is even parsed.
  await app.register(async (scoped) => {
    scoped.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const id = (req.params as { id?: string }).id ?? '';
      const token = tokenFromHeaders(req.headers);
      if (token === null) throw new KefuError('KEFU_UNAUTHORIZED', ['send Authorization: Bearer <token> or x-kefu-token']);
      if (!isWellFormedToken(token)) throw new KefuError('KEFU_UNAUTHORIZED', ['not a kefu conversation token']);
      if (!tokens.verifyConversationToken(id, token)) throw new KefuError('KEFU_FORBIDDEN', [id]);
      // Every line about this request, the "request completed" one included, names the conversation: once the token
      // shows the id is one kefu issued, never what a caller put in the path (it could be anything, a national ID too).
      req.log = req.log.child({ conversationId: id });
      reply.log = req.log;
    });
    const api = scoped.withTypeProvider<ZodTypeProvider>();

    api.post('/conversations/:id/messages', {
      schema: {
        tags: TAGS,
        summary: 'Send a customer message and get the reply',
        description: 'Retrying with the same clientMessageId (and the same text) returns the first answer (duplicate: true) instead of asking twice; the same id with another text is refused with 409 KEFU_MESSAGE_ID_REUSED.',
        security: SECURITY,
        params: idParams,
        body: z.strictObject({
          text: z.string().trim().min(1, 'must not be empty').max(config.router.maxTextLength, `must be at most ${config.router.maxTextLength} characters`),
          clientMessageId: described(z.string().min(1).max(100), 'Your id for this message, so a retry is answered once').optional(),
        }),
        response: {
          200: z.object({
            customer: messageSchema,
            reply: described(messageSchema.nullable(), 'Null while a person holds the conversation'),
            conversation: conversationSchema,
            duplicate: z.boolean(),
          }),
          ...errorResponses,
        },
      },
    }, async (req, reply) => {
      const { id } = req.params;
      if (!opts.modelLoaded()) throw new KefuError('KEFU_NOT_READY', ['the model is still loading, retry shortly']);
      const allowance = await opts.messageLimiter.take(id);
      if (!allowance.allowed) {
        void reply.header('retry-after', String(allowance.retryAfterSeconds));
        throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.perConversationPerMinute} messages a minute in one conversation; retry in ${allowance.retryAfterSeconds} s`]);
      }
      const r = await service.handleCustomerMessage(id, { text: req.body.text, clientMessageId: req.body.clientMessageId ?? null });
      return {
        customer: publicMessage(r.customer),
        reply: r.reply ? publicMessage(r.reply) : null,
        conversation: publicConversation(r.conversation),
        duplicate: r.duplicate,
      };
    });

    api.get('/conversations/:id/messages', {
      schema: {
        tags: TAGS,
        summary: 'Read the conversation and its messages, oldest first, at most 500 a call: for the rest, call again with afterSeq set to the last seq received',
        security: SECURITY,
        params: idParams,
        querystring: z.strictObject({ afterSeq: described(z.coerce.number().int().min(0).max(2_147_483_647), 'Only messages with a larger seq').optional() }),
        response: { 200: z.object({ conversation: conversationSchema, messages: z.array(messageSchema) }), ...errorResponses },
      },
    }, async (req) => {
      const h = await service.history(req.params.id, req.query.afterSeq);
      return { conversation: publicConversation(h.conversation), messages: h.messages.map(publicMessage) };
    });

    api.post('/conversations/:id/locale', {
      schema: {
        tags: TAGS,
        summary: "Change the conversation's language: the bot answers in it from the next message on",
        security: SECURITY,
        params: idParams,
        body: z.strictObject({ locale: z.enum(LOCALES) }),
        response: { 200: conversationSchema, ...errorResponses },
      },
    }, async (req) => publicConversation(await service.setLocale(req.params.id, req.body.locale)));

    api.post('/conversations/:id/rating', {
      schema: {
        tags: TAGS,
        summary: 'Rate the conversation (again, to change the rating)',
        security: SECURITY,
        params: idParams,
        body: z.strictObject({
          stars: z.number().int().min(1).max(5),
          comment: z.string().trim().max(1000).optional(),
        }),
        response: { 200: conversationSchema, ...errorResponses },
      },
    }, async (req) => {
      const comment = req.body.comment ? req.body.comment : null;
      return publicConversation(await service.rateConversation(req.params.id, req.body.stars, comment));
    });

    api.post('/conversations/:id/messages/:messageId/feedback', {
      schema: {
        tags: TAGS,
        summary: 'Thumbs up or down on a bot answer',
        security: SECURITY,
        params: idParams.extend({ messageId: z.string().min(1).max(100) }),
        body: z.strictObject({ feedback: z.enum(['up', 'down']) }),
        response: { 200: messageSchema, ...errorResponses },
      },
    }, async (req) => publicMessage(await service.rateAnswer(req.params.id, req.params.messageId, req.body.feedback)));

    api.post('/conversations/:id/handoff', {
      schema: {
        tags: TAGS,
        summary: 'Ask for a person (the 轉真人客服 button)',
        description: 'Queues the conversation for an agent; the bot stays silent from then on. Asking again changes nothing (notice: null).',
        security: SECURITY,
        params: idParams,
        response: { 200: z.object({ conversation: conversationSchema, notice: messageSchema.nullable() }), ...errorResponses },
      },
    }, async (req) => {
      const r = await service.requestHuman(req.params.id);
      return { conversation: publicConversation(r.conversation), notice: r.notice ? publicMessage(r.notice) : null };
    });
  });
};
