import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KefuError, isKefuError } from '../errors.ts';
import { maskPersonalData } from '../text/mask-personal-data.ts';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

const asObject = (e: unknown): Partial<FastifyError> & Record<string, unknown> => (typeof e === 'object' && e !== null ? (e as Partial<FastifyError> & Record<string, unknown>) : {});

// "body" + "/comment/0" → "body.comment.0": the field path a client can act on.
function fieldPath(context: string | undefined, instancePath: string | undefined): string {
  const rest = (instancePath ?? '').split('/').filter(Boolean).join('.');
  return [context ?? 'request', rest].filter(Boolean).join('.');
}

/**
 * Turns anything a request can throw into a KefuError: ours as they are; schema validation as KEFU_VALIDATION
 * naming each field; fastify's own 4xx (bad JSON, too large) by status; everything else as KEFU_INTERNAL, which
 * says only the request id, so a stack trace or SQL never reaches a customer.
 */
export function toKefuError(err: unknown, requestId: string): KefuError {
  if (isKefuError(err)) {
    // A 5xx of ours may carry storage or model details; the customer gets the request id, the log gets the rest.
    return err.status >= 500 && err.status !== 503 ? new KefuError('KEFU_INTERNAL', [requestId], { cause: err }) : err;
  }
  const e = asObject(err);
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const details = (e.validation as ValidationIssue[]).map((v) => `${fieldPath(e.validationContext, v.instancePath)}: ${v.message ?? 'invalid'}`);
    return new KefuError('KEFU_VALIDATION', [details.join('; ')], { details, cause: err });
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  const message = typeof e.message === 'string' ? e.message : 'bad request';
  if (status === 413) return new KefuError('KEFU_BODY_TOO_LARGE', [message], { cause: err });
  if (status === 415) return new KefuError('KEFU_UNSUPPORTED_MEDIA_TYPE', [message], { cause: err });
  if (status === 429) return new KefuError('KEFU_RATE_LIMITED', [message], { cause: err });
  if (status === 404) return new KefuError('KEFU_ROUTE_NOT_FOUND', [message], { cause: err });
  if (status >= 400 && status < 500) return new KefuError('KEFU_BAD_REQUEST', [message], { cause: err });
  return new KefuError('KEFU_INTERNAL', [requestId], { cause: err });
}

/** Sends a KefuError as `{ error: { code, message, details } }` with its status. */
export function sendKefuError(reply: FastifyReply, e: KefuError): FastifyReply {
  if (e.status === 401) void reply.header('www-authenticate', 'Bearer realm="kefu"');
  return reply.code(e.status).type('application/json; charset=utf-8').send({ error: e.toJSON() });
}

/** Installs the one error handler and the JSON 404 on the root instance; every plugin inherits them. */
export function installErrorHandling(fastify: FastifyInstance): void {
  fastify.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toKefuError(err, req.id);
    // Not ready (loading, shutting down) is expected and says so to the client: no stack for every such request.
    if (e.status >= 500 && e.code !== 'KEFU_NOT_READY') req.log.error({ err, code: e.code }, 'request failed');
    // Messages can echo what the customer typed (a field path, an option); masked like every other log line.
    else req.log.info({ code: e.code, status: e.status }, maskPersonalData(e.message));
    return sendKefuError(reply, e);
  });
  fastify.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    return sendKefuError(reply, new KefuError('KEFU_ROUTE_NOT_FOUND', [`${req.method} ${path}`]));
  });
}
