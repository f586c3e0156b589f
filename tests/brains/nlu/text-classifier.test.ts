import { describe, it, expect, beforeAll } from 'vitest';
import { normalise } from '../../../src/text/normalise.ts';
import { isKefuError } from '../../../src/errors.ts';
import {
  OOS_LABEL,
  classifyWithPart,
  loadTextClassifier,
  trainTextClassifier,
  type TextClassifier,
  type TrainingSample,
} from '../../../src/brains/nlu/text-classifier.ts';
import { UpstreamNeuralNetwork, trainNlpjsNetwork } from '../../../src/brains/nlu/nlpjs-network.ts';
import { toSparseMatrix } from '../../../src/brains/nlu/sparse-matrix.ts';
import { detectorProbability, fitLogitWeights, fitOutOfScopeDetector } from '../../../src/brains/nlu/calibration.ts';

const PHRASES: Record<string, string[]> = {
  card_lost: ['信用卡遺失了', '我的卡不見了', '卡片掉了怎麼辦', '信用卡要掛失', '錢包被偷卡也不見', '卡弄丟了要停卡', 'lost my credit card', 'my card was stolen'],
  balance: ['查詢帳戶餘額', '我的帳戶還有多少錢', '存款餘額是多少', '想看一下餘額', '戶頭剩多少錢', '餘額查詢', 'check my balance', 'how much money is in my account'],
  loan: ['我想申請貸款', '房貸利率多少', '信貸怎麼申請', '貸款需要什麼文件', '可以借多少錢', '申請個人信貸', 'apply for a loan', 'what is the mortgage rate'],
  exchange: ['今天美金匯率多少', '日圓匯率查詢', '我要換外幣', '外幣兌換', '歐元現在多少', '匯率怎麼算', 'usd exchange rate', 'exchange money to yen'],
};
const OOS = ['今天天氣如何', '推薦一部電影', '講個笑話', '幫我訂披薩'];

function samples(): TrainingSample[] {
  const out: TrainingSample[] = [];
  for (const [label, phrases] of Object.entries(PHRASES)) for (const p of phrases) out.push({ text: normalise(p), label });
  for (const p of OOS) out.push({ text: normalise(p), label: OOS_LABEL });
  return out;
}

describe('trainTextClassifier', () => {
  let classifier: TextClassifier;
  beforeAll(async () => {
    classifier = await trainTextClassifier(samples());
  });

  it('knows its labels, including the out-of-scope one', () => {
    expect([...classifier.labels].sort()).toEqual([OOS_LABEL, 'balance', 'card_lost', 'exchange', 'loan'].sort());
  });

  it('learns separable intents from unseen wordings', () => {
    expect(classifier.classify(normalise('我的信用卡不見了'))[0]!.topic).toBe('card_lost');
    expect(classifier.classify(normalise('帳戶餘額多少'))[0]!.topic).toBe('balance');
    expect(classifier.classify(normalise('想辦房貸'))[0]!.topic).toBe('loan');
    expect(classifier.classify(normalise('what is the yen exchange rate'))[0]!.topic).toBe('exchange');
  });

  it('gives Traditional and Simplified input the same answer', () => {
    const trad = classifier.classify(normalise('信用卡遺失怎麼辦'));
    const simp = classifier.classify(normalise('信用卡遗失怎么办'));
    expect(simp).toEqual(trad);
    expect(trad[0]!.topic).toBe('card_lost');
  });

  it('returns calibrated probabilities best first, at most k, summing to at most 1', () => {
    const all = classifier.classify(normalise('查詢餘額'), 10);
    expect(all).toHaveLength(5);
    for (const c of all) expect(c.confidence).toBeGreaterThanOrEqual(0), expect(c.confidence).toBeLessThanOrEqual(1);
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.confidence).toBeGreaterThanOrEqual(all[i]!.confidence);
    expect(all.reduce((s, c) => s + c.confidence, 0)).toBeLessThanOrEqual(1 + 1e-9);
    expect(classifier.classify(normalise('查詢餘額'), 2)).toHaveLength(2);
  });

  it('is less confident about gibberish than about a training phrase', () => {
    const known = classifier.classify(normalise('我的帳戶還有多少錢'))[0]!;
    const gibberish = classifier.classify(normalise('qzxv wprk 𠀋𠀋'))[0]!;
    expect(known.topic).toBe('balance');
    expect(gibberish.confidence).toBeLessThan(known.confidence);
    expect(classifier.classify('')[0]!.confidence).toBeLessThan(known.confidence);
  });

  it('gives each part its own calibrated answer', () => {
    for (const part of ['linear', 'network', 'softmax', 'hidden', 'ensemble'] as const) {
      const [top] = classifyWithPart(classifier, normalise('我要換外幣'), part, 1);
      expect(top!.topic).toBe('exchange');
    }
  });

  it('round-trips through JSON with identical predictions', () => {
    const json = JSON.parse(JSON.stringify(classifier.toJSON())) as unknown;
    const loaded = loadTextClassifier(json);
    expect(loaded.labels).toEqual(classifier.labels);
    for (const text of ['信用卡遺失了', 'check balance', '天氣', '匯率', 'qqq', ''].map(normalise)) {
      expect(loaded.classify(text, 5)).toEqual(classifier.classify(text, 5));
    }
  });

  it('trains the linear model alone when the network is turned off', async () => {
    const linearOnly = await trainTextClassifier(samples(), { network: false });
    expect(linearOnly.classify(normalise('卡片不見了'))[0]!.topic).toBe('card_lost');
    expect((linearOnly.toJSON() as { network: unknown }).network).toBeNull();
  });

  it('calibrates on a given validation set', async () => {
    const validation = [
      { text: normalise('卡片遺失'), label: 'card_lost' },
      { text: normalise('餘額多少'), label: 'balance' },
      { text: normalise('我要借錢'), label: 'loan' },
      { text: normalise('匯率查詢'), label: 'exchange' },
    ];
    const c = await trainTextClassifier(samples(), { validation });
    expect(c.classify(normalise('卡片遺失'))[0]!.topic).toBe('card_lost');
  });

  it('reads real topics apart from the out-of-scope probability', () => {
    const read = classifier.read(normalise('查詢餘額'), 10);
    expect(read.candidates.map((c) => c.topic)).not.toContain(OOS_LABEL);
    expect(read.candidates).toHaveLength(4);
    expect(read.candidates[0]!.topic).toBe('balance');
    const all = classifier.classify(normalise('查詢餘額'), 10);
    expect(read.outOfScope).toBeCloseTo(all.find((c) => c.topic === OOS_LABEL)!.confidence, 12);
    expect(read.candidates).toEqual(all.filter((c) => c.topic !== OOS_LABEL));
  });

  it('fits an out-of-scope detector when the held-out examples include out-of-scope ones', async () => {
    const validation = [
      ...['卡片遺失', '信用卡掉了', '餘額多少', '查一下餘額', '我要借錢', '房貸怎麼辦', '匯率查詢', '換日圓'].map((t, i) => ({
        text: normalise(t),
        label: ['card_lost', 'card_lost', 'balance', 'balance', 'loan', 'loan', 'exchange', 'exchange'][i]!,
      })),
      ...['明天會下雨嗎', '推薦餐廳', '唱首歌', '幾點了', '你是誰', '訂機票'].map((t) => ({ text: normalise(t), label: OOS_LABEL })),
    ];
    const c = await trainTextClassifier(samples(), { validation });
    const json = JSON.parse(JSON.stringify(c.toJSON())) as { version: number; calibration: { detector?: Record<string, number[]> } };
    expect(json.version).toBe(3);
    expect(Object.keys(json.calibration.detector ?? {}).sort()).toEqual(['ensemble', 'hidden', 'linear', 'network', 'softmax']);
    const known = c.read(normalise('我的帳戶還有多少錢'));
    const unknown = c.read(normalise('今天天氣如何'));
    expect(known.candidates[0]!.topic).toBe('balance');
    expect(unknown.outOfScope).toBeGreaterThan(known.outOfScope);
    expect(unknown.outOfScope).toBeLessThan(1);
    // The topics keep the joint softmax's probabilities; only the out-of-scope figure comes from the detector.
    expect(c.read(normalise('我的帳戶還有多少錢'), 10).candidates).toEqual(c.classify(normalise('我的帳戶還有多少錢'), 10).filter((x) => x.topic !== OOS_LABEL));
    const loaded = loadTextClassifier(json);
    for (const text of ['信用卡遺失了', '今天天氣如何', 'qqq', ''].map(normalise)) expect(loaded.read(text, 5)).toEqual(c.read(text, 5));
    const broken = { ...json, calibration: { ...json.calibration, detector: { ensemble: [0, -1] } } };
    expect(() => loadTextClassifier(broken)).toThrow(expect.objectContaining({ code: 'KEFU_MODEL_INVALID' }));
  });

  it('fits the detector on held-out out-of-scope examples when none was trained as a class', async () => {
    const inScope = samples().filter((s) => s.label !== OOS_LABEL);
    const validation = [
      ...['卡片遺失', '信用卡掉了', '餘額多少', '查一下餘額', '我要借錢', '房貸怎麼辦', '匯率查詢', '換日圓'].map((t, i) => ({
        text: normalise(t),
        label: ['card_lost', 'card_lost', 'balance', 'balance', 'loan', 'loan', 'exchange', 'exchange'][i]!,
      })),
      ...['明天會下雨嗎', '推薦餐廳', '唱首歌', '幾點了', '你是誰', '訂機票', ...OOS].map((t) => ({ text: normalise(t), label: OOS_LABEL })),
    ];
    const c = await trainTextClassifier(inScope, { validation });
    expect(c.labels).not.toContain(OOS_LABEL);
    const json = JSON.parse(JSON.stringify(c.toJSON())) as { calibration: { detector?: Record<string, number[]> } };
    expect(json.calibration.detector?.ensemble).toHaveLength(3);
    const known = c.read(normalise('我的帳戶還有多少錢'));
    const unknown = c.read(normalise('今天天氣如何'));
    expect(known.candidates[0]!.topic).toBe('balance');
    expect(unknown.outOfScope).toBeGreaterThan(known.outOfScope);
    // Without an out-of-scope class the topics share all of the softmax.
    const all = c.read(normalise('今天天氣如何'), 10).candidates;
    expect(all.reduce((a, x) => a + x.confidence, 0)).toBeCloseTo(1, 9);
    const loaded = loadTextClassifier(json);
    for (const text of ['信用卡遺失了', '今天天氣如何', 'qqq', ''].map(normalise)) expect(loaded.read(text, 5)).toEqual(c.read(text, 5));
    // A model saved before the unknown-word share was a feature has [b0, b1] and is read on mean − max alone.
    const [b0, b1] = json.calibration.detector!.ensemble!;
    const older = loadTextClassifier({ ...json, calibration: { ...json.calibration, detector: { ensemble: [b0, b1] } } });
    const p = older.read(normalise('今天天氣如何'), 200);
    const z = p.candidates.map((x) => Math.log(x.confidence));
    const m = z.reduce((a, x) => a + x, 0) / z.length - Math.max(...z);
    expect(p.outOfScope).toBeCloseTo(1 / (1 + Math.exp(-(b0! + b1! * m))), 9);
  });

  it('rejects training data it cannot learn from', async () => {
    await expect(trainTextClassifier([])).rejects.toSatisfy((e) => isKefuError(e, 'KEFU_DATASET_INVALID'));
    await expect(trainTextClassifier([{ text: 'a', label: 'x' }])).rejects.toSatisfy((e) => isKefuError(e, 'KEFU_DATASET_INVALID'));
  });
});

describe('loadTextClassifier', () => {
  let json: Record<string, unknown>;
  beforeAll(async () => {
    json = JSON.parse(JSON.stringify((await trainTextClassifier(samples(), { network: { iterations: 3 } })).toJSON())) as Record<string, unknown>;
  });

  const bad: Array<[string, (j: Record<string, unknown>) => unknown]> = [
    ['null', () => null],
    ['a string', () => 'model'],
    ['another format', (j) => ({ ...j, format: 'other' })],
    ['a future version', (j) => ({ ...j, version: 4 })],
    ['softmax weights for other features', (j) => ({ ...j, softmax: { ...(j.softmax as object), features: 1 } })],
    ['a hidden layer for other features', (j) => ({ ...j, hidden: { ...(j.hidden as object), hidden: { ...((j.hidden as { hidden: object }).hidden), features: 1 } } })],
    ['missing labels', (j) => ({ ...j, labels: undefined })],
    ['truncated weights', (j) => ({ ...j, linear: { ...(j.linear as object), q: 'AAAA' } })],
    ['weights for other labels', (j) => ({ ...j, labels: [...(j.labels as string[]), 'extra'] })],
    ['a broken featuriser', (j) => ({ ...j, featuriser: { terms: 3 } })],
    ['missing calibration', (j) => ({ ...j, calibration: { ensemble: [1] } })],
  ];
  it('still loads a version 1 model (two parts, no softmax regression) and scores as it did', () => {
    const v1 = { ...json, version: 1, softmax: undefined, calibration: { ...(json.calibration as object), ensemble: (json.calibration as { ensemble: number[] }).ensemble.slice(0, 2), softmax: undefined } };
    const c = loadTextClassifier(v1);
    expect(c.classify(normalise('信用卡遺失了'))[0]!.topic).toBe('card_lost');
  });

  it('still loads a version 2 model (three parts, no hidden layer) and scores as it did', () => {
    const cal = json.calibration as { ensemble: number[] };
    const v2 = { ...json, version: 2, hidden: undefined, calibration: { ...cal, ensemble: cal.ensemble.slice(0, 3), hidden: undefined, detector: undefined } };
    const c = loadTextClassifier(v2);
    expect(c.classify(normalise('信用卡遺失了'))[0]!.topic).toBe('card_lost');
  });

  for (const [name, make] of bad) {
    it(`throws KEFU_MODEL_INVALID for ${name}`, () => {
      expect(() => loadTextClassifier(make(json))).toThrow(expect.objectContaining({ code: 'KEFU_MODEL_INVALID' }));
    });
  }
});

describe('node-nlp network', () => {
  it('learns what upstream @nlpjs/neural NeuralNetwork learns from the same examples', () => {
    // Values are powers of two so float32 and float64 inputs agree exactly.
    const rows = [
      { x: { 0: 1, 1: 0.5 }, y: 0 },
      { x: { 1: 0.5, 2: 1 }, y: 1 },
      { x: { 2: 0.25, 3: 1 }, y: 2 },
      { x: { 0: 0.5, 3: 0.5 }, y: 0 },
      { x: { 1: 1, 2: 0.5 }, y: 1 },
      { x: { 3: 1, 0: 0.25 }, y: 2 },
    ];
    const vectors = rows.map((r) => ({
      indices: Int32Array.from(Object.keys(r.x).map(Number)),
      values: Float32Array.from(Object.values(r.x)),
    }));
    const x = toSparseMatrix(vectors, 4);
    const ours = { weights: new Float64Array(12), biases: new Float64Array(3) };
    trainNlpjsNetwork(x, Int32Array.from(rows.map((r) => r.y)), 3, { iterations: 25, shuffle: false }, (k, w, b) => {
      for (let f = 0; f < 4; f++) ours.weights[f * 3 + k] = w[f]!;
      ours.biases[k] = b;
    });

    const upstream = new (UpstreamNeuralNetwork as unknown as new (s: object) => {
      train(c: unknown[]): unknown;
      toJSON(): { features: string[]; intents: string[]; perceptrons: number[][] };
    })({ iterations: 25, log: false });
    // Declare every feature and intent first so upstream numbers them as we do.
    upstream.train([
      ...rows.map((r) => ({ input: Object.fromEntries(Object.entries(r.x).map(([k, v]) => [`f${k}`, v])), output: { [String(r.y)]: 1 } })),
    ]);
    const u = upstream.toJSON();
    for (let k = 0; k < 3; k++) {
      const p = u.perceptrons[u.intents.indexOf(String(k))]!;
      for (let f = 0; f < 4; f++) expect(ours.weights[f * 3 + k]).toBeCloseTo(p[u.features.indexOf(`f${f}`)]!, 5);
      expect(ours.biases[k]).toBeCloseTo(p[p.length - 1]!, 5);
    }
  });
});

describe('calibration', () => {
  it('fits a temperature that makes over-confident scores honest', () => {
    // Scores that always favour the right label by 1, but 30 % of the time the right label is the other one.
    const scores: Float64Array[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 100; i++) {
      scores.push(Float64Array.from([1, 0]));
      labels.push(i < 70 ? 0 : 1);
    }
    const [a] = fitLogitWeights({ scores: [scores], labels: Int32Array.from(labels) }, [10]);
    // softmax([a, 0])[0] should be 0.7 → a = ln(0.7 / 0.3)
    expect(a).toBeCloseTo(Math.log(0.7 / 0.3), 3);
  });
});

describe('out-of-scope detector', () => {
  it('learns that a higher score means out of scope, and needs enough examples of each kind', () => {
    const scores = [-5, -4, -4.5, -3, -6, -5.5, -1, -0.5, -0.8, -0.2, -1.2, -2];
    const isOos = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0];
    const d = fitOutOfScopeDetector(scores.map((m) => [m]), isOos)!;
    expect(d[1]).toBeGreaterThan(0);
    const p = (m: number): number => 1 / (1 + Math.exp(-(d[0]! + d[1]! * m)));
    expect(p(-0.3)).toBeGreaterThan(0.5);
    expect(p(-5)).toBeLessThan(0.5);
    expect(fitOutOfScopeDetector(scores.slice(0, 9).map((m) => [m]), isOos.slice(0, 9))).toBeNull();
  });

  it('weighs the unknown-word share beside the score, and a two-number detector ignores it', () => {
    // The score m alone cannot tell the last two examples of each kind apart; the unknown-word share can.
    const rows = [[-5, 0], [-4, 0.1], [-4.5, 0], [-3, 0], [-2, 0], [-2, 0.1], [-1, 0.4], [-0.5, 0.5], [-0.8, 0.3], [-2, 0.9], [-2, 0.8]];
    const isOos = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    const d = fitOutOfScopeDetector(rows, isOos)!;
    expect(d).toHaveLength(3);
    expect(d[2]).toBeGreaterThan(0);
    const z = [0, 2, 0]; // m = 2/3 − 2 over the three topics
    expect(detectorProbability(z, -1, 0.9, d)).toBeGreaterThan(detectorProbability(z, -1, 0, d));
    expect(detectorProbability(z, -1, 0.9, d.slice(0, 2))).toBe(detectorProbability(z, -1, 0, d.slice(0, 2)));
  });
});

describe('hidden-layer network', () => {
  it('learns classes that no single feature separates', async () => {
    const { trainHiddenLayerNetwork, scoreHiddenLayer } = await import('../../../src/brains/nlu/hidden-layer-network.ts');
    // Exclusive or: class 1 has exactly one of features 0 and 1, so a linear model cannot get all four right.
    const rows = [[], [0], [1], [0, 1]].map((f) => ({ indices: Int32Array.from([...f, 2]), values: Float32Array.from([...f.map(() => 1), 1]) }));
    const data = Array.from({ length: 40 }, (_, i) => rows[i % 4]!);
    const x = toSparseMatrix(data, 3);
    const y = Int32Array.from(data, (_, i) => (i % 4 === 1 || i % 4 === 2 ? 1 : 0));
    const w = trainHiddenLayerNetwork(x, y, 2, { hidden: 16, epochs: 200, batch: 4, dropout: 0, learningRate: 0.02 }, 16);
    rows.forEach((r, i) => {
      const s = scoreHiddenLayer(w, r.indices, r.values, new Float64Array(2));
      expect(s[1]! > s[0]!).toBe(i === 1 || i === 2);
    });
  });
});

describe('softmax regression', () => {
  it('learns separable classes on its own', async () => {
    const { trainSoftmaxRegression } = await import('../../../src/brains/nlu/softmax-regression.ts');
    const x = toSparseMatrix(
      [0, 1, 2, 0, 1, 2].map((k) => ({ indices: Int32Array.of(k, 3), values: Float32Array.of(1, 0.5) })),
      4,
    );
    const y = Int32Array.of(0, 1, 2, 0, 1, 2);
    const w: Float64Array[] = [];
    trainSoftmaxRegression(x, y, 3, { epochs: 50, batch: 2 }, (k, weights) => (w[k] = Float64Array.from(weights)));
    for (let k = 0; k < 3; k++) for (let j = 0; j < 3; j++) if (j !== k) expect(w[k]![k]!).toBeGreaterThan(w[j]![k]!);
  });
});
