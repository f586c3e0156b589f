import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { KefuError } from '../errors.ts';
import type { RateLimiter } from '../conversation/rate-limiter.ts';
import type { HandoffService } from '../handoff/handoff-service.ts';
import { isWellFormedToken, tokenFromHeaders, type ConversationTokens } from './conversation-token.ts';
import { addCorsHeaders } from './cors.ts';
import { queuePositionSchema } from './agent-schemas.ts';
import { conversationSchema, described, errorResponses, messageSchema, publicConversation, publicMessage } from './schemas.ts';

export interface CustomerHandoffApiOptions {
  handoff: HandoffService;
  tokens: ConversationTokens;
  messageLimiter: RateLimiter;
  config: Config;
}

const SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { kefuToken: [] }];
const TAGS = ['conversations'];
const idParams = z.object({ id: described(z.string().min(1).max(100), 'Conversation id') });

/**
 * The customer's side of the handoff (mounted at /api/v1, beside the customer API, with the same conversation
 * token): where they stand in the queue, and leaving a message for a call back when nobody is on duty.
 */
export const customerHandoffApi: FastifyPluginAsync<CustomerHandoffApiOptions> = async (fastify, opts) => {
  const { handoff, tokens, config } = opts;
  addCorsHeaders(fastify, config.server.corsOrigins);
  fastify.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const id = (req.params as { id?: string }).id ?? '';
    const token = tokenFromHeaders(req.headers);
    if (token === null) throw new KefuError('KEFU_UNAUTHORIZED', ['send Authorization: Bearer <token> or x-kefu-token']);
    if (!isWellFormedToken(token)) throw new KefuError('KEFU_UNAUTHORIZED', ['not a kefu conversation token']);
    if (!tokens.verifyConversationToken(id, token)) throw new KefuError('KEFU_FORBIDDEN', [id]);
    // As in the conversations API: named on every line, "request completed" included, once the token vouches for it.
    req.log = req.log.child({ conversationId: id });
    reply.log = req.log;
  });
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get('/conversations/:id/queue', {
    schema: {
      tags: TAGS, security: SECURITY, params: idParams,
      summary: 'Where I stand in the queue for an agent',
      description: 'position is null unless the conversation waits for an agent. When callbackOffered is true nobody is on duty: offer POST /conversations/{id}/callback.',
      response: { 200: z.object({ position: queuePositionSchema.nullable() }), ...errorResponses },
    },
  }, async (req) => ({ position: await handoff.position(req.params.id) }));

  app.post('/conversations/:id/callback', {
    schema: {
      tags: TAGS, security: SECURITY, params: idParams,
      summary: 'Leave a message for a call back',
      description: 'Queues the conversation as a callback ticket (or turns the waiting chat into one). Refused (409) while an agent is already serving the conversation.',
      body: z.strictObject({
        text: described(z.string().trim().min(1, 'must not be empty').max(1000), 'What the customer needs'),
        contactTime: described(z.string().trim().max(100), 'When to call, in the customer\'s words').optional(),
      }),
      response: { 200: z.object({ conversation: conversationSchema, notice: messageSchema }), ...errorResponses },
    },
  }, async (req, reply) => {
    const allowance = await opts.messageLimiter.take(req.params.id);
    if (!allowance.allowed) {
      void reply.header('retry-after', String(allowance.retryAfterSeconds));
      throw new KefuError('KEFU_RATE_LIMITED', [`at most ${config.rateLimit.perConversationPerMinute} messages a minute in one conversation`]);
    }
    const r = await handoff.leaveCallback(req.params.id, { text: req.body.text, contactTime: req.body.contactTime || null });
    return { conversation: publicConversation(r.conversation), notice: publicMessage(r.notice) };
  });
};
