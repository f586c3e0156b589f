/**
 * The ceiling bench:chat measures kefu against: fastify + socket.io answering the web chat's `/chat` events in
 * the same shapes, with nothing behind them (no validation, tokens, store, router, logs or room pushes).
 * `message:send` acknowledges the customer's text straight back as the reply.
 *
 *   node --import tsx scripts/bench-echo-server.ts      (listens on 127.0.0.1:$KEFU_PORT, 0 picks a free port)
 *
 * Started by scripts/bench-chat.ts in a child process of its own, so its RSS and event loop are its own.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Server as SocketServer } from 'socket.io';

const port = Number(process.env.KEFU_PORT ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`bench-echo-server: KEFU_PORT must be a port number, not ${process.env.KEFU_PORT}\n`);
  process.exit(2);
}

const fastify = Fastify({ logger: false });
// bench:chat waits for /readyz on both servers the same way.
fastify.get('/readyz', async () => ({ status: 'ready' }));
const io = new SocketServer(fastify.server, { path: '/socket.io', serveClient: false, cors: { origin: '*' } });

let conversations = 0;
let seq = 0;
io.of('/chat').on('connection', (socket) => {
  socket.on('conversation:start', (_payload: unknown, ack?: (r: unknown) => void) => {
    const id = `echo-${++conversations}`;
    ack?.({ ok: true, conversation: { id, state: 'bot' }, token: 'echo', messages: [], resumed: false });
  });
  socket.on('message:send', (payload: { conversationId?: string; text?: string; clientMessageId?: string }, ack?: (r: unknown) => void) => {
    const conversation = { id: payload?.conversationId, state: 'bot' };
    ack?.({
      ok: true,
      conversation,
      customer: { id: `m${++seq}`, author: 'customer', text: payload?.text, clientMessageId: payload?.clientMessageId },
      reply: { id: `m${++seq}`, author: 'bot', text: payload?.text },
      duplicate: false,
    });
  });
});

// Nothing to flush or drain: exit at once.
const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await fastify.listen({ host: '127.0.0.1', port });
process.stdout.write(`echo listening on 127.0.0.1:${(fastify.server.address() as AddressInfo).port}\n`);
