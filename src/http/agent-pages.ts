import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { PUBLIC_DIR } from './static-pages.ts';

/** Where the agent console's page, styles and modules live. */
export const AGENT_CONSOLE_DIR = join(PUBLIC_DIR, 'agent');

// The console is named console.html, not index.html, so that the static pages (which serve all of public/) do not
// also claim /agent/. Its modules and the socket.io client are same-origin files: no inline script or style, so
// the policy can forbid both.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  // The console shows customers' conversations: never in a frame, never from a shared cache.
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export interface AgentPagesOptions {
  /** Folder holding console.html and its modules; defaults to public/agent. */
  root?: string;
}

/**
 * Serves the agent console at `/agent` (and `/agent/`) with a strict Content-Security-Policy, and its CSS and
 * modules under `/agent/` unless the static pages already serve them. The page signs in against /api/v1/auth and
 * talks to /api/v1/agent and the /agent socket namespace (docs/agent-api.md).
 */
export const agentPages: FastifyPluginAsync<AgentPagesOptions> = async (app, opts) => {
  const root = opts.root ?? AGENT_CONSOLE_DIR;
  await app.register(fastifyStatic, { root, serve: false });

  for (const url of ['/agent', '/agent/']) {
    app.get(url, { schema: { hide: true } }, (_request, reply) => reply.headers(PAGE_HEADERS).sendFile('console.html', root));
  }
  for (const file of readdirSync(root)) {
    const url = `/agent/${file}`;
    if (app.hasRoute({ method: 'GET', url })) continue;
    app.get(url, { schema: { hide: true } }, (_request, reply) => reply.headers(file.endsWith('.html') ? PAGE_HEADERS : { 'x-content-type-options': 'nosniff' }).sendFile(file, root));
  }
};
