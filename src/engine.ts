import type { Config, Thresholds } from './config.ts';
import { resolveThresholds } from './config.ts';
import type { Logger } from './log.ts';
import { loadPack, type Pack } from './pack/pack-loader.ts';
import { buildModel, type KefuModel } from './model/build-model.ts';
import { loadCurrentModel, saveModel } from './model/model-files.ts';
import { createNluBrain, type NluBrain } from './brains/nlu/nlu-brain.ts';
import type { FaqIndex } from './brains/faq/faq-index.ts';
import { createRouter, type Router } from './router/router.ts';
import { KefuError, isKefuError } from './errors.ts';

/** A pack, its trained model and a router over them: what a CLI or the server talks to. */
export interface Engine {
  pack: Pack;
  model: KefuModel;
  modelVersion: string;
  router: Router;
  thresholds: Thresholds;
  thresholdsSource: string;
}

/** Builds a router over a pack from the two brains (a trained model's, or stand-ins). */
function routerOver(config: Config, pack: Pack, faq: FaqIndex, nlu: NluBrain, thresholds: Thresholds): Router {
  return createRouter({
    faq,
    nlu,
    topics: pack.topics,
    thresholds,
    brand: config.brand,
    locale: config.locale,
    maxFallbacks: config.router.maxFallbacks,
    maxTextLength: config.router.maxTextLength,
  });
}

/** Builds a router from a trained model and its pack. */
export function routerFor(config: Config, pack: Pack, model: KefuModel, thresholds: Thresholds): Router {
  return routerOver(config, pack, model.faq, createNluBrain(model.nlu), thresholds);
}

/** A router that only replays decisions (`decide`) from recorded brain readings, as evaluation does. */
export function replayRouter(config: Config, pack: Pack, thresholds: Thresholds): Router {
  const noBrain = (): never => {
    throw new Error('a replay router has no brains: call decide() with a reading');
  };
  return routerOver(config, pack, { faqs: [], search: noBrain, toJSON: noBrain }, { understand: noBrain }, thresholds);
}

/** Trains the configured pack's model and saves it as the current version. */
export async function trainAndSave(config: Config, pack: Pack, log: Logger): Promise<{ model: KefuModel; version: string; path: string }> {
  log.info({ pack: pack.name, topics: pack.topics.length }, 'training model');
  const model = await buildModel(pack);
  const { version, path } = saveModel(config.modelDir, model);
  log.info({ version, path, trainSeconds: model.trainSeconds }, 'model trained');
  return { model, version, path };
}

/**
 * Loads the configured pack and its current model; when there is none, or it was trained on another version
 * of the pack, trains one first (unless `train` is 'never'), so a fresh clone answers after `npm install`.
 */
export async function startEngine(config: Config, log: Logger, options: { train?: 'if-stale' | 'never' } = {}): Promise<Engine> {
  const pack = loadPack(config.packDir);
  let model: KefuModel | undefined;
  let modelVersion = '';
  try {
    const current = loadCurrentModel(config.modelDir, pack.name);
    if (current.model.packHash === pack.hash) {
      model = current.model;
      modelVersion = current.version;
    } else {
      log.info({ version: current.version }, 'current model was trained on another version of the pack');
    }
  } catch (e) {
    if (!isKefuError(e, 'KEFU_MODEL_NOT_FOUND') && !isKefuError(e, 'KEFU_MODEL_INVALID')) throw e;
    if (options.train === 'never') throw e;
    log.info({ reason: (e as Error).message }, 'no usable model');
  }
  if (!model) {
    if (options.train === 'never') throw new KefuError('KEFU_MODEL_NOT_FOUND', [`no model for this version of pack ${pack.name} (run npm run train)`]);
    const trained = await trainAndSave(config, pack, log);
    model = trained.model;
    modelVersion = trained.version;
  }
  const { thresholds, source } = resolveThresholds(config, pack);
  return { pack, model, modelVersion, router: routerFor(config, pack, model, thresholds), thresholds, thresholdsSource: source };
}
