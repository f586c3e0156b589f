import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { apiSchemas } from './schemas.ts';

/**
 * The OpenAPI document (GET /openapi.json) and its UI (/docs), generated from the routes' zod schemas.
 * Registered on the root instance, not as an encapsulated plugin: @fastify/swagger learns routes through an
 * onRoute hook, which only sees routes registered in its own context and below.
 */
export async function registerApiDocs(fastify: FastifyInstance, opts: { version: string; botName: string }): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'kefu customer API',
        version: opts.version,
        description:
          `Talk to ${opts.botName}, the bank and insurance customer-service bot. Start a conversation with ` +
          'POST /api/v1/conversations; its answer carries a token that every /conversations/{id} call must send as ' +
          '`Authorization: Bearer <token>` (or `x-kefu-token`). Errors are `{ error: { code, message, details } }`.',
      },
      tags: [
        { name: 'conversations', description: 'The customer side of a conversation' },
        { name: 'operations', description: 'Probes and metrics for operators' },
        { name: 'console sign-in', description: 'Sign in to the agent and trainer consoles (session cookie, or a Bearer session token)' },
        { name: 'agent console', description: 'The queue and the conversations agents serve (roles agent, admin); live events on the /agent socket, see docs/agent-api.md' },
        { name: 'trainer console', description: 'Label and retrain (roles trainer, admin)' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/v1/conversations' },
          kefuToken: { type: 'apiKey', in: 'header', name: 'x-kefu-token' },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'kefu_session', description: 'Set by POST /api/v1/auth/login' },
        },
      },
    },
    transform: createJsonSchemaTransform({ schemaRegistry: apiSchemas, skipList: ['/openapi.json'] }),
    transformObject: createJsonSchemaTransformObject({ schemaRegistry: apiSchemas }),
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());
}
