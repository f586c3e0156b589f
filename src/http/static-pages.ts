import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where the demo page and the widget's files live. */
export const PUBLIC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../public');

// The socket.io client the widget imports is the one shipped inside the server's own socket.io package (client-dist),
// so its protocol always matches the server's. socket.io-client is only a devDependency (pruned in the image), and
// socket.io's built-in `serveClient` sends no CORS header, which a module imported from a bank's page needs.
const SOCKET_IO_CLIENT_DIR = join(dirname(createRequire(import.meta.url).resolve('socket.io/package.json')), 'client-dist');
const SOCKET_IO_CLIENT_FILES = ['socket.io.esm.min.js', 'socket.io.esm.min.js.map'];

export interface StaticPagesOptions {
  /** Origins allowed to load the widget's modules (config.server.corsOrigins); '*' allows any. */
  corsOrigins?: readonly string[];
  /** Folder to serve; defaults to the repository's public/. */
  root?: string;
}

/**
 * Serves the demo page at `/`, the embeddable `/widget.js` with its CSS and modules under `/widget/`, and the
 * socket.io ESM client at `/widget/socket.io.esm.min.js`. The widget runs on a bank's own site and imports its
 * modules from here, so each response carries the CORS header the configured origins need.
 */
export const staticPages: FastifyPluginAsync<StaticPagesOptions> = async (app, opts) => {
  const origins = opts.corsOrigins ?? ['*'];
  const anyOrigin = origins.includes('*');

  app.addHook('onSend', async (request, reply, payload) => {
    if (anyOrigin) {
      reply.header('access-control-allow-origin', '*');
    } else {
      reply.header('vary', 'Origin');
      const origin = request.headers.origin;
      if (origin && origins.includes(origin)) reply.header('access-control-allow-origin', origin);
    }
    return payload;
  });

  // One route per file found at start-up rather than a catch-all, so this plugin never shadows another's routes.
  // The agent console under public/agent/ is served by agent-pages.ts, with its own CSP and no CORS.
  await app.register(fastifyStatic, { root: opts.root ?? PUBLIC_DIR, prefix: '/', wildcard: false, index: ['index.html'], globIgnore: ['agent/**'] });

  for (const file of SOCKET_IO_CLIENT_FILES) {
    app.get(`/widget/${file}`, { schema: { hide: true } }, (_request, reply) => reply.sendFile(file, SOCKET_IO_CLIENT_DIR));
  }
};
