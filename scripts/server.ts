import { runCli } from '../src/cli/cli.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { KefuError } from '../src/errors.ts';

const USAGE = `Usage: npm start -- [options]
Starts the kefu server: the customer REST API under /api/v1, the web chat (socket.io) and its widget, /docs,
/openapi.json, /healthz, /readyz and /metrics. Loads the configured pack's model, training it first when it is
missing or stale. Settings come from the config file, then KEFU_* variables (KEFU_HOST, KEFU_PORT, KEFU_DB_PATH,
KEFU_SECRET, KEFU_CORS_ORIGINS, …), then these options. SIGTERM or Ctrl-C stops gracefully.

  --host HOST       address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
  --port PORT       port to listen on (default 3000; 0 picks a free one)
  --db FILE         SQLite database file (default data/kefu.sqlite)`;

await runCli(
  USAGE,
  { host: { type: 'string' }, port: { type: 'string' }, db: { type: 'string' } },
  async ({ config: base, values, log }) => {
    let config = base;
    const server: Record<string, unknown> = {};
    if (typeof values.host === 'string') server.host = values.host;
    if (typeof values.port === 'string') {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KefuError('KEFU_CLI_USAGE', [`--port must be a whole number from 0 to 65535, not ${values.port}\n\n${USAGE}`]);
      server.port = port;
    }
    if (Object.keys(server).length > 0 || typeof values.db === 'string') {
      // Rebuilt through loadConfig so these options are validated like every other setting.
      config = loadConfig({
        file: typeof values.config === 'string' ? values.config : undefined,
        env: process.env,
        overrides: {
          ...(typeof values.pack === 'string' ? { packDir: values.pack } : {}),
          ...(typeof values['log-level'] === 'string' ? { logLevel: values['log-level'] } : {}),
          ...(Object.keys(server).length > 0 ? { server } : {}),
          ...(typeof values.db === 'string' ? { database: { path: values.db } } : {}),
        },
      });
    }

    const app = await createApp(config, { log });
    const stopped = new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (++signals > 1) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(130);
        }
        log.info({ signal }, 'signal received');
        app.stop().then(resolve, (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    const { host, port } = await app.start();
    const shown = host.includes(':') ? `[${host}]` : host;
    log.info({ host, port }, `kefu listening on http://${shown}:${port}`);
    await stopped;
  },
);
