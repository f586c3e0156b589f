import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// kefu runs its TypeScript through tsx, and a worker thread does not inherit the loader hooks of the thread that
// starts it: so the thread registers tsx's loader itself before importing its entry. tsx's ESM entry is found
// through its own exports map (the CommonJS one that require.resolve gives fails to load from a worker).
const require = createRequire(import.meta.url);
const TSX_API = (() => {
  const manifest = require.resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return new URL(exports['./esm/api']!.import.default, pathToFileURL(manifest)).href;
})();

/** Starts a worker thread running the TypeScript module at `entry`. */
export function startTsWorker(entry: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const boot = `import(${JSON.stringify(TSX_API)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
