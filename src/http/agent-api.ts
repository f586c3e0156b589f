import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { GROUP_PATTERN } from '../domain/agent.ts';
import type { AgentAccounts } from '../handoff/agent-accounts.ts';
import type { HandoffService } from '../handoff/handoff-service.ts';
import { requireRole, signedInAgent } from './agent-auth.ts';
import {
  agentMessageSchema, claimConflictSchema, conversationDetailSchema, directorySchema, dispositionSchema, handoffResultSchema, liveConversationSchema, noteSchema,
  queueItemSchema, suggestionSchema,
} from './agent-schemas.ts';
import { CONSOLE_SECURITY } from './auth-api.ts';
import { described, errorResponses } from './schemas.ts';

export interface AgentApiOptions {
  accounts: AgentAccounts;
  handoff: HandoffService;
  config: Config;
}

const TAGS = ['agent console'];
const idParams = z.object({ id: described(z.string().min(1).max(100), 'Conversation id') });

/**
 * The agent console's REST API (mounted at /api/v1/agent): the queue, the live list, claiming, the conversation with
 * its traces, suggested replies, messages, notes, transfer, return to the bot and close. Agents and admins only;
 * live updates come on the /agent socket namespace (docs/agent-api.md).
 */
export const agentApi: FastifyPluginAsync<AgentApiOptions> = async (fastify, { accounts, handoff, config }) => {
  fastify.addHook('onRequest', requireRole(accounts, ['agent', 'admin'], 'use the agent console'));
  // Every line about a request on one conversation names it, "request completed" included (after the role check:
  // only a signed-in agent's requests get this far).
  fastify.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const id = (req.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') return;
    req.log = req.log.child({ conversationId: id });
    reply.log = req.log;
  });
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const text = z.string().trim().min(1, 'must not be empty').max(config.router.maxTextLength, `must be at most ${config.router.maxTextLength} characters`);
  const note = z.string().trim().min(1, 'must not be empty').max(4000);
  const clientMessageId = z.string().trim().min(1).max(100);
  const common = { tags: TAGS, security: CONSOLE_SECURITY };

  app.get('/queue', {
    schema: {
      ...common, summary: 'The queue of my groups, in serving order',
      description: 'Highest priority first, then live chats before callback tickets, then the longest waiting. An agent sees their groups, "default", and transfers addressed to them; an admin sees everything.',
      response: { 200: z.object({ items: z.array(queueItemSchema) }), ...errorResponses },
    },
  }, async (req) => ({ items: await handoff.queue(signedInAgent(req)) }));

  app.get('/conversations/live', {
    schema: {
      ...common, summary: 'Conversations the bot is serving now, to pull one',
      description: `Bot-held conversations with a customer message, active in the last ${config.handoff.liveWindowMinutes} minutes, most recent first (at most 100).`,
      response: { 200: z.object({ conversations: z.array(liveConversationSchema) }), ...errorResponses },
    },
  }, async (req) => ({ conversations: await handoff.live(signedInAgent(req)) }));

  app.get('/conversations/mine', {
    schema: { ...common, summary: 'Conversations I hold (to restore my tabs)', response: { 200: z.object({ items: z.array(queueItemSchema) }), ...errorResponses } },
  }, async (req) => ({ items: await handoff.mine(signedInAgent(req)) }));

  app.get('/conversations/:id', {
    schema: {
      ...common, summary: 'A conversation with its full history, traces, notes, handoff timers and the verified customer profile',
      params: idParams, response: { 200: conversationDetailSchema, ...errorResponses },
    },
  }, async (req) => handoff.detail(signedInAgent(req), req.params.id));

  app.post('/conversations/:id/claim', {
    schema: {
      ...common, summary: 'Take the conversation (from the queue, or pull it from the bot)',
      description: 'Exactly one agent wins; the others get 409 KEFU_ALREADY_CLAIMED naming the winner in its message and in `details: { ownerAgentId, ownerName }`. Claiming again what you already hold returns it.',
      params: idParams, response: { 200: handoffResultSchema, ...errorResponses, 409: claimConflictSchema },
    },
  }, async (req) => handoff.claim(signedInAgent(req), req.params.id));

  app.get('/conversations/:id/suggestions', {
    schema: {
      ...common, summary: "The FAQ brain's best answers for the customer's latest message",
      params: idParams,
      querystring: z.strictObject({ k: described(z.coerce.number().int().min(1).max(10), 'How many (default 3)').default(3) }),
      response: { 200: z.object({ message: described(agentMessageSchema.nullable(), 'The customer message answered'), suggestions: z.array(suggestionSchema) }), ...errorResponses },
    },
  }, async (req) => handoff.suggestions(signedInAgent(req), req.params.id, req.query.k));

  const sent = z.object({ message: agentMessageSchema, duplicate: described(z.boolean(), 'This clientMessageId was sent before: the stored message, not sent again') });
  app.post('/conversations/:id/messages', {
    schema: {
      ...common, summary: 'Send a message to the customer (on whatever channel they use)',
      description: 'With a clientMessageId, retrying is safe: the message is stored and pushed to the customer once, and a retry answers 200 with the stored message and duplicate: true.',
      params: idParams,
      body: z.strictObject({ text, clientMessageId: described(clientMessageId, 'Your id for this message (a UUID, say), so a retry sends it once').optional() }),
      response: { 200: sent, 201: sent, ...errorResponses },
    },
  }, async (req, reply) => {
    const r = await handoff.sendMessage(signedInAgent(req), req.params.id, { text: req.body.text, clientMessageId: req.body.clientMessageId ?? null });
    return reply.code(r.duplicate ? 200 : 201).send(r);
  });

  app.post('/conversations/:id/notes', {
    schema: {
      ...common, summary: 'Add an internal note (never shown to the customer)',
      params: idParams, body: z.strictObject({ text: note }),
      response: { 201: z.object({ note: noteSchema }), ...errorResponses },
    },
  }, async (req, reply) => reply.code(201).send({ note: await handoff.addNote(signedInAgent(req), req.params.id, req.body.text) }));

  app.post('/conversations/:id/transfer', {
    schema: {
      ...common, summary: 'Hand the conversation to another group or agent (back to the queue)',
      params: idParams,
      body: z
        .strictObject({
          group: z.string().regex(GROUP_PATTERN, 'must be a group name').optional(),
          agentId: z.string().min(1).max(100).optional(),
          note: note.optional(),
        })
        .refine((b) => (b.group === undefined) !== (b.agentId === undefined), { message: 'give either group or agentId', path: ['group'] }),
      response: { 200: handoffResultSchema, ...errorResponses },
    },
  }, async (req) => handoff.transfer(signedInAgent(req), req.params.id, req.body));

  app.post('/conversations/:id/return', {
    schema: { ...common, summary: 'Give the conversation back to the bot, which answers the next message', params: idParams, response: { 200: handoffResultSchema, ...errorResponses } },
  }, async (req) => handoff.returnToBot(signedInAgent(req), req.params.id));

  app.post('/conversations/:id/close', {
    schema: {
      ...common, summary: 'Close the conversation with a disposition',
      params: idParams, body: z.strictObject({ disposition: dispositionSchema, note: note.optional() }),
      response: { 200: handoffResultSchema, ...errorResponses },
    },
  }, async (req) => handoff.close(signedInAgent(req), req.params.id, req.body));

  app.get('/directory', {
    schema: { ...common, summary: 'Agents (with who is on duty) and groups, for the transfer picker', response: { 200: directorySchema, ...errorResponses } },
  }, async () => handoff.directory());
};
