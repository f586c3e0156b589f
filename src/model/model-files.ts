import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KefuError } from '../errors.ts';
import { deserializeModel, serializeModel, type KefuModel } from './build-model.ts';

// Layout: <modelDir>/<pack>/<version>.json, version = <UTC timestamp>-<first 12 hex of the pack hash>, and
// <modelDir>/<pack>/current.json naming the version in service. Writes go to a temp file then rename, so a
// crash mid-write never leaves a half model where the server would read it.

function atomicWrite(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Writes a model as a new version and makes it current; returns the version and its path. */
export function saveModel(modelDir: string, model: KefuModel): { version: string; path: string } {
  const dir = join(modelDir, model.packName);
  mkdirSync(dir, { recursive: true });
  const stamp = model.createdAt.replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const version = `${stamp}-${model.packHash.slice(0, 12)}`;
  const path = join(dir, `${version}.json`);
  atomicWrite(path, JSON.stringify(serializeModel(model)));
  atomicWrite(join(dir, 'current.json'), JSON.stringify({ version }, null, 2));
  return { version, path };
}

/** Versions of a pack's models on disk, oldest first. */
export function listModelVersions(modelDir: string, packName: string): string[] {
  const dir = join(modelDir, packName);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d{8}-\d{6}-[0-9a-f]{12}\.json$/.test(f))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/** Loads the current model of a pack; throws KEFU_MODEL_NOT_FOUND when none was trained. */
export function loadCurrentModel(modelDir: string, packName: string): { version: string; model: KefuModel } {
  const dir = join(modelDir, packName);
  const pointer = join(dir, 'current.json');
  if (!existsSync(pointer)) throw new KefuError('KEFU_MODEL_NOT_FOUND', [`${pointer} (run npm run train)`]);
  let version: string;
  try {
    version = String((JSON.parse(readFileSync(pointer, 'utf8')) as { version?: unknown }).version);
  } catch (e) {
    throw new KefuError('KEFU_MODEL_INVALID', [`${pointer}: ${(e as Error).message}`], { cause: e });
  }
  const path = join(dir, `${version}.json`);
  if (!existsSync(path)) throw new KefuError('KEFU_MODEL_NOT_FOUND', [path]);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KefuError('KEFU_MODEL_INVALID', [`${path}: ${(e as Error).message}`], { cause: e });
  }
  return { version, model: deserializeModel(json) };
}
