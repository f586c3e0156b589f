import { z } from 'zod';
import { AGENT_ROLES } from '../domain/agent.ts';
import { CONVERSATION_STATES } from '../domain/conversation.ts';
import { DISPOSITIONS } from '../domain/handoff.ts';
import { LOCALES } from '../domain/types.ts';
import { apiSchemas, described, errorBodySchema } from './schemas.ts';

// The console's view of kefu's domain: unlike the customer's, it shows everything (traces, fallback counts, notes).

const candidate = z.object({ topic: z.string(), confidence: z.number() });
const entity = z.object({ type: z.string(), value: z.string(), text: z.string(), start: z.number(), end: z.number() });

export const traceSchema = z
  .object({
    normalised: described(z.string(), 'The customer text as the brains saw it, personal data masked'),
    faq: z.object({ candidates: z.array(candidate) }).nullable(),
    nlu: z.object({ candidates: z.array(candidate), entities: z.array(entity) }).nullable(),
    rule: described(z.string(), 'Which rule of the router decided (faq-confident, nlu-confident, close-runner-up, repeated-fallback …)'),
    thresholds: z.object({ faq: z.number(), nlu: z.number(), clarifyMargin: z.number(), clarifyMin: z.number() }),
    ms: z.number(),
  })
  .register(apiSchemas, { id: 'Trace' });

export const storedOutcomeSchema = z.object({
  outcome: z.enum(['answer', 'clarify', 'fallback', 'handoff']),
  topic: z.string().nullable(),
  brain: z.enum(['faq', 'nlu']).nullable(),
  confidence: z.number(),
  candidates: z.array(candidate),
  entities: z.array(entity),
  needsVerification: z.boolean(),
  trace: traceSchema,
});

export const agentSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: described(z.string(), 'Shown to customers when the agent joins'),
    role: z.enum(AGENT_ROLES as ['agent', 'trainer', 'admin']),
    groups: described(z.array(z.string()), 'Queue groups served besides "default" (every agent serves it; an admin sees every group)'),
    disabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
    lastLoginAt: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'Agent' });

export const agentConversationSchema = z
  .object({
    id: z.string(),
    channel: z.enum(['web', 'api', 'line', 'botframework']),
    customerId: z.string(),
    state: z.enum(CONVERSATION_STATES as ['bot', 'queued', 'agent', 'closed']),
    locale: z.enum(LOCALES),
    createdAt: z.string(),
    updatedAt: z.string(),
    closedAt: z.string().nullable(),
    consecutiveFallbacks: z.number().int(),
    rating: z.object({ stars: z.number().int(), comment: z.string().nullable(), at: z.string() }).nullable(),
    agentId: described(z.string().nullable(), 'While state is agent: who holds it'),
    agentName: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'AgentConversation' });

export const agentMessageSchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    seq: z.number().int(),
    author: z.enum(['customer', 'bot', 'agent', 'system']),
    text: z.string(),
    quickReplies: z.array(z.object({ topic: z.string(), title: z.string() })),
    outcome: described(storedOutcomeSchema.nullable(), "On bot turns: the router's decision with its full trace"),
    clientMessageId: described(z.string().nullable(), "The sender's own id for a customer or agent message (a retry with it is stored once)"),
    replyTo: z.string().nullable(),
    feedback: z.enum(['up', 'down']).nullable(),
    agentId: described(z.string().nullable(), 'On agent messages: who wrote it'),
    agentName: described(z.string().nullable(), 'On agent messages: their display name, as the customer was shown it'),
    createdAt: z.string(),
  })
  .register(apiSchemas, { id: 'AgentMessage' });

export const handoffSchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    kind: described(z.enum(['chat', 'callback']), 'chat: the customer waits on the line; callback: a message left for a call back'),
    trigger: described(z.enum(['router', 'button', 'pull', 'transfer', 'callback', 'release']), 'release: its agent signed out or went offline, and it went back to the front of the queue'),
    topic: z.string().nullable(),
    group: z.string(),
    priority: described(z.number().int(), 'Higher first (fraud.report and complaint.file by default)'),
    targetAgentId: described(z.string().nullable(), 'Transferred to this agent only'),
    status: z.enum(['queued', 'claimed', 'ended']),
    agentId: z.string().nullable(),
    queuedAt: z.string(),
    claimedAt: z.string().nullable(),
    firstReplyAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    endReason: described(z.enum(['closed', 'returned', 'transferred', 'customer_ended', 'released']).nullable(), 'released: the agent signed out or went offline (a release episode follows)'),
    disposition: z.enum(DISPOSITIONS).nullable(),
    endedBy: z.string().nullable(),
    callback: z.object({ text: z.string(), contactTime: z.string().nullable() }).nullable(),
    previousId: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'Handoff' });

const previewSchema = z.object({ text: z.string(), createdAt: z.string() }).nullable();

export const queueItemSchema = z
  .object({
    handoff: handoffSchema,
    conversation: agentConversationSchema,
    waitingSeconds: described(z.number().int(), 'Since it joined the queue (since the claim, for conversations held)'),
    preview: described(previewSchema, "The customer's latest message"),
  })
  .register(apiSchemas, { id: 'QueueItem' });

export const liveConversationSchema = z
  .object({
    conversation: agentConversationSchema,
    preview: previewSchema,
    lastOutcome: z.object({ outcome: z.enum(['answer', 'clarify', 'fallback', 'handoff']), topic: z.string().nullable() }).nullable(),
    messageCount: z.number().int(),
  })
  .register(apiSchemas, { id: 'LiveConversation' });

export const noteSchema = z
  .object({ id: z.string(), conversationId: z.string(), agentId: z.string(), agentName: z.string(), text: z.string(), createdAt: z.string() })
  .register(apiSchemas, { id: 'Note' });

export const timersSchema = z.object({
  waitSeconds: described(z.number().int().nullable(), 'Queued until claimed (so far, while waiting)'),
  firstReplySeconds: described(z.number().int().nullable(), "Queued until the agent's first message"),
  handlingSeconds: described(z.number().int().nullable(), 'Claimed until ended (so far, while held)'),
});

export const customerProfileSchema = z.object({
  channel: z.enum(['web', 'api', 'line', 'botframework']),
  customerId: z.string(),
  verified: z.boolean(),
  verifiedAt: z.string().nullable(),
  displayName: z.string().nullable(),
  data: z.record(z.string(), z.string()),
  updatedAt: z.string(),
});

export const conversationDetailSchema = z
  .object({
    conversation: agentConversationSchema,
    messages: z.array(agentMessageSchema),
    notes: described(z.array(noteSchema), 'Internal notes: never shown to the customer'),
    handoffs: described(z.array(handoffSchema.extend({ timers: timersSchema, agentName: z.string().nullable() })), 'Every handoff episode, oldest first, with its timers'),
    customer: z.object({
      channel: z.enum(['web', 'api', 'line', 'botframework']),
      customerId: z.string(),
      verified: z.boolean(),
      profile: described(customerProfileSchema.nullable(), 'Only for a verified customer'),
    }),
  })
  .register(apiSchemas, { id: 'ConversationDetail' });

export const suggestionSchema = z
  .object({
    topic: z.string(),
    title: z.string(),
    answer: described(z.string(), "The topic's answer in the conversation's locale, brand filled in: insert, edit, send"),
    confidence: described(z.number(), "The FAQ brain's calibrated confidence"),
  })
  .register(apiSchemas, { id: 'SuggestedReply' });

export const handoffResultSchema = z.object({ conversation: agentConversationSchema, handoff: handoffSchema });

export const queuePositionSchema = z
  .object({
    conversationId: z.string(),
    kind: z.enum(['chat', 'callback']),
    group: z.string(),
    position: described(z.number().int(), '1 for the next customer served; 0 for a callback ticket'),
    expectedWaitSeconds: z.number().int(),
    agentsOnline: z.number().int(),
    callbackOffered: described(z.boolean(), 'Nobody is on duty: offer to leave a message (POST /conversations/{id}/callback)'),
  })
  .register(apiSchemas, { id: 'QueuePosition' });

export const directorySchema = z.object({
  agents: z.array(z.object({
    id: z.string(), username: z.string(), displayName: z.string(), role: z.enum(AGENT_ROLES as ['agent', 'trainer', 'admin']),
    groups: z.array(z.string()), status: z.enum(['available', 'away', 'offline']),
  })),
  groups: z.array(z.string()),
});

export const dispositionSchema = z.enum(DISPOSITIONS);

/** A lost claim (409 KEFU_ALREADY_CLAIMED): who holds the conversation now, by id and by name, besides the message. */
export const alreadyClaimedSchema = z
  .object({
    error: z.object({
      code: z.literal('KEFU_ALREADY_CLAIMED'),
      message: described(z.string(), 'Conversation … is already taken by 小美'),
      details: z.object({
        ownerAgentId: described(z.string().nullable(), 'The agent holding it (null when the store could not tell)'),
        ownerName: described(z.string().nullable(), 'Their display name'),
      }),
    }),
  })
  .register(apiSchemas, { id: 'AlreadyClaimedError' });

/** 409 of a claim: the conversation is taken (with its holder), or closed, or in no state to be claimed. */
export const claimConflictSchema = z.union([alreadyClaimedSchema, errorBodySchema]);
