import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KefuApp } from '../../src/app.ts';
import { IDENTITY_SECRET } from '../http/test-app.ts';

// What every browser test shares: Debian's chromium (installed by .ci/run; without it the tests are skipped) and
// the real app on a free port, with the default pack trained at start and SQLite on a temp file.
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const REPO = resolve(import.meta.dirname, '../..');

/** Starts the real app on a temp directory; returns it, its base URL and the directory. */
export async function startRealApp(prefix: string): Promise<{ app: KefuApp; base: string; dir: string }> {
  // Imported here so that a machine without chromium does not even build (and train) the app.
  const [{ loadConfig }, { createApp }] = await Promise.all([import('../../src/config.ts'), import('../../src/app.ts')]);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = loadConfig({
    cwd: REPO,
    overrides: {
      packDir: 'intents', modelDir: join(dir, 'models'), reportDir: join(dir, 'reports'),
      database: { path: join(dir, 'kefu.sqlite') }, server: { host: '127.0.0.1', port: 0 }, logLevel: 'silent',
      identity: { secret: IDENTITY_SECRET },
    },
  });
  const app = await createApp(config);
  const { port } = await app.start();
  return { app, base: `http://127.0.0.1:${port}`, dir };
}
