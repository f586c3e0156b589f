import type { Candidate, Locale } from '../domain/types.ts';
import type { Pack, Topic } from '../pack/pack-loader.ts';
import { buildModel, type KefuModel } from '../model/build-model.ts';
import { createNluBrain, type NluResult } from '../brains/nlu/nlu-brain.ts';
import { normalise } from '../text/normalise.ts';

/** One labelled utterance: the topic it means, or null for out of scope. */
export interface LabelledUtterance {
  text: string;
  topic: string | null;
}

/** What both brains said about an utterance, kept so routing can be replayed under other thresholds without retraining. */
export interface BrainReading extends LabelledUtterance {
  faq: Candidate[];
  nlu: NluResult;
}

// A deterministic shuffle keyed by a seed, so folds (and so reports) are the same on every run.
function seededOrder(n: number, seed: number): number[] {
  const order = [...Array(n).keys()];
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** Every phrase of the pack as a labelled utterance, out-of-scope examples included. */
export function packUtterances(pack: Pack): (LabelledUtterance & { locale: Locale })[] {
  const out: (LabelledUtterance & { locale: Locale })[] = [];
  for (const t of pack.topics) {
    for (const [locale, list] of Object.entries(t.phrases) as [Locale, string[]][]) for (const text of list) out.push({ text, topic: t.id, locale });
  }
  for (const [locale, list] of Object.entries(pack.outOfScope) as [Locale, string[]][]) for (const text of list) out.push({ text, topic: null, locale });
  return out;
}

/** Reads an utterance with both brains of a model. */
export function readWith(model: KefuModel, u: LabelledUtterance): BrainReading {
  const normalised = normalise(u.text);
  return { ...u, faq: model.faq.search(normalised, 5), nlu: createNluBrain(model.nlu).understand(normalised, u.text, 5) };
}

/**
 * Stratified k-fold cross-validation over the pack's own phrases: each fold trains both brains on the other
 * folds and reads the held-out phrases. Returns every reading, for scoring and threshold tuning.
 */
export async function crossValidate(pack: Pack, k = 5, seed = 7, onFold?: (fold: number) => void): Promise<BrainReading[]> {
  const all = packUtterances(pack);
  // Stratify: deal each topic's phrases round-robin over the folds after a seeded shuffle.
  const foldOf = new Array<number>(all.length);
  const byTopic = new Map<string, number[]>();
  all.forEach((u, i) => {
    const key = u.topic ?? '__oos__';
    let list = byTopic.get(key);
    if (!list) byTopic.set(key, (list = []));
    list.push(i);
  });
  let offset = 0;
  for (const idxs of byTopic.values()) {
    seededOrder(idxs.length, seed + offset).forEach((pos, rank) => (foldOf[idxs[pos] as number] = (rank + offset) % k));
    offset++;
  }
  const readings: BrainReading[] = [];
  for (let fold = 0; fold < k; fold++) {
    onFold?.(fold);
    const keep = (i: number): boolean => foldOf[i] !== fold;
    const topics: Topic[] = pack.topics.map((t) => ({ ...t, phrases: {} }));
    const byId = new Map(topics.map((t) => [t.id, t]));
    const outOfScope: Partial<Record<Locale, string[]>> = {};
    all.forEach((u, i) => {
      if (!keep(i)) return;
      if (u.topic === null) (outOfScope[u.locale] ??= []).push(u.text);
      else ((byId.get(u.topic) as Topic).phrases[u.locale] ??= []).push(u.text);
    });
    const model = await buildModel(pack, topics, outOfScope);
    all.forEach((u, i) => {
      if (!keep(i)) readings.push(readWith(model, u));
    });
  }
  return readings;
}
