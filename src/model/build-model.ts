import type { Locale } from '../domain/types.ts';
import { KefuError } from '../errors.ts';
import type { Pack, Topic } from '../pack/pack-loader.ts';
import { buildFaqIndex, loadFaqIndex, type FaqIndex, type FaqParaphrase, type CalibrationQuery } from '../brains/faq/faq-index.ts';
import { OOS_LABEL, trainTextClassifier, loadTextClassifier, type TextClassifier, type TrainingSample } from '../brains/nlu/text-classifier.ts';
import { normalise } from '../text/normalise.ts';

/** Both brains trained on one pack, with the pack's hash so a stale model is never served silently. */
export interface KefuModel {
  packName: string;
  packHash: string;
  createdAt: string;
  trainSeconds: number;
  faq: FaqIndex;
  nlu: TextClassifier;
}

export interface SerializedModel {
  kind: 'kefu-model';
  version: 1;
  packName: string;
  packHash: string;
  createdAt: string;
  trainSeconds: number;
  faq: unknown;
  nlu: unknown;
}

/** The training material a pack yields: FAQ paraphrases, classifier samples, and queries for FAQ calibration. */
export function trainingMaterial(topics: readonly Topic[], outOfScope: Partial<Record<Locale, string[]>>) {
  const paraphrases: FaqParaphrase[] = [];
  const samples: TrainingSample[] = [];
  const negatives: CalibrationQuery[] = [];
  for (const t of topics) {
    for (const list of Object.values(t.phrases)) {
      for (const p of list ?? []) {
        const text = normalise(p);
        if (text === '') continue;
        samples.push({ text, label: t.id });
        if (t.kind === 'faq') paraphrases.push({ faq: t.id, text });
        else negatives.push({ text, faq: null });
      }
    }
  }
  for (const list of Object.values(outOfScope)) {
    for (const p of list ?? []) {
      const text = normalise(p);
      if (text === '') continue;
      samples.push({ text, label: OOS_LABEL });
      negatives.push({ text, faq: null });
    }
  }
  return { paraphrases, samples, negatives };
}

/** Trains the FAQ index and the intent classifier for a pack (or for a subset of its topics, as cross-validation does). */
export async function buildModel(pack: Pack, topics: readonly Topic[] = pack.topics, outOfScope = pack.outOfScope): Promise<KefuModel> {
  const started = performance.now();
  const { paraphrases, samples, negatives } = trainingMaterial(topics, outOfScope);
  const faq = buildFaqIndex(paraphrases, negatives);
  const nlu = await trainTextClassifier(samples);
  return {
    packName: pack.name,
    packHash: pack.hash,
    createdAt: new Date().toISOString(),
    trainSeconds: Math.round((performance.now() - started) / 10) / 100,
    faq,
    nlu,
  };
}

/** Plain JSON for a model file. */
export function serializeModel(m: KefuModel): SerializedModel {
  return { kind: 'kefu-model', version: 1, packName: m.packName, packHash: m.packHash, createdAt: m.createdAt, trainSeconds: m.trainSeconds, faq: m.faq.toJSON(), nlu: m.nlu.toJSON() };
}

/** Turns a model file's JSON back into a model; throws KEFU_MODEL_INVALID for anything else. */
export function deserializeModel(json: unknown): KefuModel {
  const j = json as Partial<SerializedModel> | null;
  if (!j || j.kind !== 'kefu-model' || j.version !== 1 || typeof j.packHash !== 'string') {
    throw new KefuError('KEFU_MODEL_INVALID', ['not a kefu model (version 1)']);
  }
  return {
    packName: String(j.packName),
    packHash: j.packHash,
    createdAt: String(j.createdAt),
    trainSeconds: Number(j.trainSeconds),
    faq: loadFaqIndex(j.faq),
    nlu: loadTextClassifier(j.nlu),
  };
}
