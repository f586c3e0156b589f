import { z } from 'zod';
import { CONVERSATION_STATES } from '../domain/conversation.ts';
import { LOCALES } from '../domain/types.ts';

// The customer API's schemas; what they show of the domain is decided in src/domain/customer-view.ts.

/**
 * Schemas named in the OpenAPI document. A registry of our own (not zod's global one) so that building the app
 * twice in one process, as tests do, never registers an id twice.
 */
export const apiSchemas = z.registry<{ id?: string; description?: string }>();

/**
 * Gives a schema a description in the OpenAPI document. Not zod's `.describe()`: that writes to zod's global
 * registry, which the document generator does not read once it is given ours.
 */
export function described<T extends z.ZodType>(schema: T, description: string): T {
  apiSchemas.add(schema, { description });
  return schema;
}

export const errorBodySchema = z
  .object({
    error: z.object({
      code: described(z.string(), 'Stable KEFU_* code to match on'),
      message: z.string(),
      details: described(
        z.union([z.array(z.string()), z.record(z.string(), z.string().nullable())]),
        'Usually a list of problems (one per invalid field). A few codes carry named facts instead: 409 KEFU_ALREADY_CLAIMED has { ownerAgentId, ownerName } (who holds the conversation; null when unknown).',
      ),
    }),
  })
  .register(apiSchemas, { id: 'Error', description: 'Every 4xx and 5xx answer has this shape.' });

const ratingSchema = z.object({ stars: z.number().int(), comment: z.string().nullable(), at: z.string() });

export const conversationSchema = z
  .object({
    id: z.string(),
    channel: z.enum(['web', 'api', 'line', 'botframework']),
    customerId: z.string(),
    state: described(z.enum(CONVERSATION_STATES as ['bot', 'queued', 'agent', 'closed']), 'bot: the bot answers; queued/agent: a person holds it and the bot is silent; closed'),
    locale: z.enum(LOCALES),
    createdAt: z.string(),
    updatedAt: z.string(),
    closedAt: z.string().nullable(),
    rating: ratingSchema.nullable(),
    agentName: described(z.string().nullable(), 'While state is agent: the display name of the agent serving the customer; null otherwise'),
  })
  .register(apiSchemas, { id: 'Conversation' });
export type PublicConversation = z.output<typeof conversationSchema>;

export const messageSchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    seq: described(z.number().int(), 'Position in the conversation, from 1; page with ?afterSeq='),
    author: z.enum(['customer', 'bot', 'agent', 'system']),
    text: z.string(),
    quickReplies: described(z.array(z.object({ topic: z.string(), title: z.string() })), 'Buttons to offer; send the title as the next message'),
    outcome: described(
      z
        .object({
          outcome: z.enum(['answer', 'clarify', 'fallback', 'handoff']),
          topic: z.string().nullable(),
          needsVerification: described(z.boolean(), 'The answer needs the customer to verify who they are first'),
        })
        .nullable(),
      'On bot answers: what the bot decided',
    ),
    clientMessageId: z.string().nullable(),
    replyTo: z.string().nullable(),
    feedback: z.enum(['up', 'down']).nullable(),
    agentName: described(z.string().nullable(), 'On agent messages: the display name of the agent who wrote it (show as "王小明：…")'),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'Message' });
export type PublicMessage = z.output<typeof messageSchema>;

/** The customer's views live in the domain, shared with the socket channel; re-exported for the routes. */
export { customerConversation as publicConversation, customerMessage as publicMessage } from '../domain/customer-view.ts';

/** Response schemas for the error statuses a route can answer with. */
export const errorResponses = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  409: errorBodySchema,
  410: errorBodySchema,
  429: errorBodySchema,
  500: errorBodySchema,
  503: errorBodySchema,
} as const;
