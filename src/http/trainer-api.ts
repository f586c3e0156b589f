import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentAccounts } from '../handoff/agent-accounts.ts';
import { requireRole, signedInAgent } from './agent-auth.ts';
import { agentSchema } from './agent-schemas.ts';
import { CONSOLE_SECURITY } from './auth-api.ts';
import { errorResponses } from './schemas.ts';

/** The trainer console's API (mounted at /api/v1/trainer): trainers and admins only. Its real routes come with the training issue. */
export const trainerApi: FastifyPluginAsync<{ accounts: AgentAccounts }> = async (fastify, { accounts }) => {
  fastify.addHook('onRequest', requireRole(accounts, ['trainer', 'admin'], 'use the trainer console'));
  fastify.withTypeProvider<ZodTypeProvider>().get('/whoami', {
    schema: { tags: ['trainer console'], summary: 'The signed-in trainer', security: CONSOLE_SECURITY, response: { 200: z.object({ agent: agentSchema }), ...errorResponses } },
  }, async (req) => ({ agent: signedInAgent(req) }));
};
