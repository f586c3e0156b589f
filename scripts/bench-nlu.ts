/**
 * bench:nlu — kefu's NLU classifier against plain node-nlp on a labelled intent dataset, in the same run.
 *
 *   npm run bench:nlu -- --dataset <folder> [--limit N] [--options JSON] [--skip-baseline]
 *
 * Each system trains and runs in its own child process so that peak RSS is its own. The last stdout line is one
 * JSON object; the full report goes to training/reports/bench-nlu-<dataset>.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { KefuError } from '../src/errors.ts';
import { hasHan, normalise } from '../src/text/normalise.ts';
import { recallTarget, tuneRejectionThreshold } from '../src/training/out-of-scope-threshold.ts';
import {
  OOS_LABEL,
  readWithPart,
  trainTextClassifier,
  type ClassifierOptions,
  type ClassifierPart,
  type ClassifierReading,
  type TextClassifier,
  type TrainingSample,
} from '../src/brains/nlu/text-classifier.ts';

const USAGE = `Usage: npm run bench:nlu -- --dataset <folder> [options]

Trains on <folder>/train.jsonl, tunes on val.jsonl or dev.jsonl (else a slice of train), evaluates on test.jsonl.
Rows are {"text", "intent"}; intent "oos" marks out-of-scope: kefu tunes on train's oos rows with the tuning split
instead of training on them. kefu and plain node-nlp run side by side, each in
its own child process.

Options:
  --dataset <folder>   dataset folder (a bare name is also looked up in $KEFU_DATASETS, default ../shared/datasets)
  --limit N            keep about N rows of each split (evenly spaced) for a quick run
  --options JSON       kefu ClassifierOptions overrides, e.g. '{"C":0.5}'
  --skip-baseline      run kefu only
  --help               this text
`;

const OOS = 'oos';

interface Row {
  text: string;
  intent: string;
}

interface Args {
  dataset: string;
  limit: number | null;
  options: Partial<ClassifierOptions>;
  skipBaseline: boolean;
  system: 'kefu' | 'baseline' | null;
}

function parseArgs(argv: readonly string[]): Args | 'help' {
  const args: Args = { dataset: '', limit: null, options: {}, skipBaseline: false, system: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new KefuError('KEFU_CLI_USAGE', [`${a} needs a value\n\n${USAGE}`]);
      return v;
    };
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--dataset') args.dataset = value();
    else if (a === '--limit') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new KefuError('KEFU_CLI_USAGE', ['--limit must be a positive integer']);
      args.limit = n;
    } else if (a === '--options') {
      try {
        args.options = JSON.parse(value()) as Partial<ClassifierOptions>;
      } catch (e) {
        throw new KefuError('KEFU_CLI_USAGE', [`--options is not JSON: ${(e as Error).message}`], { cause: e });
      }
    } else if (a === '--skip-baseline') args.skipBaseline = true;
    else if (a === '--system') {
      const s = value();
      if (s !== 'kefu' && s !== 'baseline') throw new KefuError('KEFU_CLI_USAGE', ['--system is kefu or baseline']);
      args.system = s;
    } else throw new KefuError('KEFU_CLI_USAGE', [`unknown argument ${a}\n\n${USAGE}`]);
  }
  if (!args.dataset) throw new KefuError('KEFU_CLI_USAGE', [`--dataset is required\n\n${USAGE}`]);
  return args;
}

function resolveDataset(name: string): string {
  if (existsSync(join(name, 'train.jsonl'))) return resolve(name);
  const alt = join(process.env.KEFU_DATASETS ?? '../shared/datasets', name);
  if (existsSync(join(alt, 'train.jsonl'))) return resolve(alt);
  throw new KefuError('KEFU_DATASET_INVALID', [`${name} has no train.jsonl (looked in ${resolve(name)} and ${resolve(alt)})`]);
}

function readRows(file: string): Row[] {
  const rows: Row[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let j: unknown;
      try {
        j = JSON.parse(line);
      } catch (e) {
        throw new KefuError('KEFU_DATASET_INVALID', [`${file}:${i + 1} is not JSON`], { cause: e });
      }
      const r = j as Partial<Row>;
      if (typeof r.text !== 'string' || typeof r.intent !== 'string') {
        throw new KefuError('KEFU_DATASET_INVALID', [`${file}:${i + 1} needs string "text" and "intent"`]);
      }
      rows.push({ text: r.text, intent: r.intent });
    });
  return rows;
}

function subsample(rows: Row[], limit: number | null): Row[] {
  if (limit === null || rows.length <= limit) return rows;
  const step = rows.length / limit;
  return Array.from({ length: limit }, (_, i) => rows[Math.floor(i * step)]!);
}

/** Every 8th row of each intent goes to the tuning split when a dataset ships none. */
function carve(rows: Row[]): { train: Row[]; val: Row[] } {
  const seen = new Map<string, number>();
  const train: Row[] = [];
  const val: Row[] = [];
  for (const r of rows) {
    const n = (seen.get(r.intent) ?? 0) + 1;
    seen.set(r.intent, n);
    (n % 8 === 0 ? val : train).push(r);
  }
  return { train, val };
}

interface Splits {
  name: string;
  train: Row[];
  /** Tuning split: the dataset's own, or carved from train (then `carved` is true and train excludes it). */
  val: Row[];
  carved: boolean;
  test: Row[];
  hasOos: boolean;
}

function loadSplits(args: Args): Splits {
  const dir = resolveDataset(args.dataset);
  const train = readRows(join(dir, 'train.jsonl'));
  const test = readRows(join(dir, 'test.jsonl'));
  const valFile = ['val.jsonl', 'dev.jsonl'].map((f) => join(dir, f)).find((f) => existsSync(f));
  const split = valFile ? { train, val: readRows(valFile) } : carve(train);
  return {
    name: basename(dir),
    train: subsample(split.train, args.limit),
    val: subsample(split.val, args.limit === null ? null : Math.max(50, Math.round(args.limit / 4))),
    carved: !valFile,
    test: subsample(test, args.limit === null ? null : Math.max(50, Math.round(args.limit / 3))),
    hasOos: [...train, ...test].some((r) => r.intent === OOS),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

export interface Metrics {
  accuracy: number;
  inscope_accuracy: number;
  oos_recall: number | null;
  oos_precision: number | null;
}

function score(gold: readonly string[], predicted: readonly string[], hasOos: boolean): Metrics {
  let ok = 0;
  let inN = 0;
  let inOk = 0;
  let oosN = 0;
  let oosHit = 0;
  let predOos = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = predicted[i]!;
    if (g === p) ok++;
    if (p === OOS) predOos++;
    if (g === OOS) {
      oosN++;
      if (p === OOS) oosHit++;
    } else {
      inN++;
      if (g === p) inOk++;
    }
  }
  return {
    accuracy: ok / gold.length,
    inscope_accuracy: inN ? inOk / inN : 0,
    oos_recall: hasOos && oosN ? oosHit / oosN : null,
    oos_precision: hasOos ? (predOos ? oosHit / predOos : 0) : null,
  };
}

/**
 * kefu's decision for one utterance: the top real topic, or "oos" when the classifier's in-scope probability
 * (1 − its out-of-scope probability) is below the threshold. The out-of-scope probability, not the top topic's,
 * is what says "none of these": the top topic's also drops when two real topics are close.
 */
export function predictIntent(reading: ClassifierReading, threshold: number): string {
  const top = reading.candidates[0];
  if (!top || 1 - reading.outOfScope < threshold) return OOS;
  return top.topic;
}

/** The oos recall the rejection threshold must reach on new queries (the CLINC150 target's own terms). */
export const MIN_OOS_RECALL = 0.8;

/**
 * The threshold for one scorer: tuned on the tuning split's readings for recall ≥ MIN_OOS_RECALL plus one standard
 * error of a recall measured on the split's out-of-scope rows (`recallTarget`), so that new queries clear 0.80.
 */
function thresholdFor(gold: readonly string[], readings: readonly ClassifierReading[]): number {
  const rows = readings.map((r, i) => ({
    inScopeProbability: 1 - r.outOfScope,
    inScope: gold[i] !== OOS,
    right: gold[i] === r.candidates[0]?.topic,
  }));
  const oosN = gold.filter((g) => g === OOS).length;
  return tuneRejectionThreshold(rows, recallTarget(MIN_OOS_RECALL, oosN));
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in kilobytes
}

interface SystemResult extends Metrics {
  train_s: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number;
  threshold?: number;
  model_mb?: number;
  ablation?: Record<string, Metrics & { threshold: number }>;
}

/** Times `predict` on every test text after a warm-up; returns predictions and per-utterance latencies. */
async function timed(texts: readonly string[], predict: (text: string) => Promise<string> | string): Promise<{ predictions: string[]; p50: number; p99: number }> {
  for (const t of texts.slice(0, Math.min(200, texts.length))) await predict(t);
  collectGarbage();
  const predictions: string[] = [];
  const ms: number[] = [];
  for (const t of texts) {
    const start = process.hrtime.bigint();
    predictions.push(await predict(t));
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { predictions, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
}

// ---------------------------------------------------------------------------------------------------------------
// Systems (each runs in its own child process)

function toSamples(rows: readonly Row[]): TrainingSample[] {
  return rows.map((r) => ({ text: normalise(r.text), label: r.intent === OOS ? OOS_LABEL : r.intent }));
}

async function runKefu(s: Splits, options: Partial<ClassifierOptions>): Promise<SystemResult> {
  // Out-of-scope rows never train the classifier: they join the tuning split, where (with its in-scope rows) they fit
  // the out-of-scope detector and tune the threshold. Trained as a class, they made the out-of-scope queries that
  // resemble them easy and told little about the rest: on CLINC150, with half of train's 100 trained, a threshold
  // tuned to 80 % on val caught 88 % of the trained half and 62 % of the other half.
  const tuneRows = [...s.val, ...s.train.filter((r) => r.intent === OOS)];
  const train = toSamples(s.train.filter((r) => r.intent !== OOS));
  const val = toSamples(tuneRows);
  // With a shipped tuning split (or out-of-scope rows, which need one), calibrate on it. Without one, the classifier
  // holds out its own slice of train and refits on all of it.
  const useVal = !s.carved || s.hasOos;
  const start = performance.now();
  const classifier = await trainTextClassifier(useVal ? train : [...train, ...val], {
    ...options,
    validation: useVal ? val : null,
  });
  const train_s = (performance.now() - start) / 1000;
  // Training's garbage is not the router's: collect it before measuring routing (npm run bench:nlu passes --expose-gc).
  collectGarbage();

  const parts: ClassifierPart[] = ['linear', 'network', 'softmax', 'hidden', 'ensemble'];
  const thresholds: Record<string, number> = { linear: 0, network: 0, softmax: 0, hidden: 0, ensemble: 0 };
  if (s.hasOos) {
    const gold = tuneRows.map((r) => r.intent);
    for (const part of parts) thresholds[part] = thresholdFor(gold, val.map((v) => readWithPart(classifier, v.text, part, 1)));
  }
  const gold = s.test.map((r) => r.intent);
  const ablation: Record<string, Metrics & { threshold: number }> = {};
  for (const part of parts) {
    const preds = s.test.map((r) => predictIntent(readWithPart(classifier, normalise(r.text), part, 1), thresholds[part]!));
    ablation[part] = { ...score(gold, preds, s.hasOos), threshold: thresholds[part]! };
  }
  collectGarbage();
  const threshold = thresholds.ensemble!;
  const run = await timed(s.test.map((r) => r.text), (t) => predictIntent(classifier.read(normalise(t)), threshold));
  const rss_mb = peakRssMb(); // before serialising: saving a model is not part of training or routing
  const model_mb = Buffer.byteLength(JSON.stringify(classifier.toJSON())) / 1e6;
  return { ...score(gold, run.predictions, s.hasOos), train_s, p50_ms: run.p50, p99_ms: run.p99, rss_mb, threshold, model_mb, ablation };
}

interface NlpManagerLike {
  addDocument(locale: string, utterance: string, intent: string): void;
  train(): Promise<unknown>;
  process(locale: string, utterance: string): Promise<{ intent: string; score: number }>;
}

async function runBaseline(s: Splits): Promise<SystemResult> {
  const require = createRequire(import.meta.url);
  // The baseline is plain node-nlp: NlpManager with its defaults (it loads every language it ships).
  const { NlpManager } = require('node-nlp') as { NlpManager: new (settings: Record<string, unknown>) => NlpManagerLike };
  const lang = s.train.slice(0, 200).some((r) => hasHan(r.text)) ? 'zh' : 'en';
  const manager = new NlpManager({ languages: [lang], nlu: { log: false }, autoSave: false });
  // Explicit out-of-scope rows go to node-nlp's own None intent.
  for (const r of s.train) manager.addDocument(lang, r.text, r.intent === OOS ? 'None' : r.intent);
  const start = performance.now();
  await manager.train();
  const train_s = (performance.now() - start) / 1000;
  const run = await timed(s.test.map((r) => r.text), async (t) => {
    const out = await manager.process(lang, t);
    return out.intent === 'None' ? OOS : out.intent;
  });
  return { ...score(s.test.map((r) => r.intent), run.predictions, s.hasOos), train_s, p50_ms: run.p50, p99_ms: run.p99, rss_mb: peakRssMb() };
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: spawn both, print, write the report

function runChild(argv: readonly string[], system: 'kefu' | 'baseline'): SystemResult {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, script, ...argv, '--system', system], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = (child.stdout ?? '').trim().split('\n');
  if (child.status !== 0) throw new Error(`${system} child exited with ${child.status}: ${lines.slice(-5).join('\n')}`);
  return JSON.parse(lines[lines.length - 1]!) as SystemResult;
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '   —  ' : (100 * x).toFixed(2).padStart(6));

function printTable(name: string, kefu: SystemResult, baseline: SystemResult | null, hasOos: boolean): void {
  const head = ['system', 'accuracy', 'in-scope', 'oos recall', 'oos prec', 'train s', 'p50 ms', 'p99 ms', 'RSS MB'];
  const row = (label: string, r: Metrics & Partial<SystemResult>): string =>
    [
      label.padEnd(28),
      pct(r.accuracy).padStart(8),
      pct(r.inscope_accuracy).padStart(8),
      pct(r.oos_recall).padStart(10),
      pct(r.oos_precision).padStart(8),
      (r.train_s?.toFixed(1) ?? '').padStart(7),
      (r.p50_ms?.toFixed(3) ?? '').padStart(7),
      (r.p99_ms?.toFixed(3) ?? '').padStart(7),
      (r.rss_mb?.toFixed(0) ?? '').padStart(6),
    ].join(' ');
  console.log(`\nbench:nlu ${name}${hasOos ? ` (oos threshold ${kefu.threshold?.toFixed(3)}, tuned on the tuning split and train's oos rows)` : ''}`);
  console.log([head[0]!.padEnd(28), ...head.slice(1).map((h, i) => h.padStart([8, 8, 10, 8, 7, 7, 7, 6][i]!))].join(' '));
  console.log(row('kefu (4-part ensemble)', kefu));
  if (baseline) console.log(row('node-nlp defaults', baseline));
  for (const [part, m] of Object.entries(kefu.ablation ?? {})) {
    const label =
      {
        linear: '  kefu: linear SVM alone',
        network: '  kefu: node-nlp net alone',
        softmax: '  kefu: softmax regr. alone',
        hidden: '  kefu: hidden-layer net alone',
        ensemble: '  kefu: ensemble',
      }[part] ??
      part;
    console.log(row(label, m));
  }
  if (kefu.model_mb !== undefined) console.log(`kefu model JSON: ${kefu.model_mb.toFixed(1)} MB`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const parsed = parseArgs(argv);
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const splits = loadSplits(parsed);
  if (parsed.system === 'kefu') {
    console.log(JSON.stringify(await runKefu(splits, parsed.options)));
    return;
  }
  if (parsed.system === 'baseline') {
    console.log(JSON.stringify(await runBaseline(splits)));
    return;
  }
  const kefu = runChild(argv, 'kefu');
  const baseline = parsed.skipBaseline ? null : runChild(argv, 'baseline');
  printTable(splits.name, kefu, baseline, splits.hasOos);
  const pick = (r: SystemResult | null) =>
    r && { accuracy: r.accuracy, inscope_accuracy: r.inscope_accuracy, oos_recall: r.oos_recall, train_s: r.train_s, p50_ms: r.p50_ms, p99_ms: r.p99_ms, rss_mb: r.rss_mb };
  const report = {
    dataset: splits.name,
    rows: {
      train: splits.train.length,
      tune: splits.val.length,
      tune_carved_from_train: splits.carved,
      train_oos_used_for_tuning: splits.train.filter((r) => r.intent === OOS).length,
      test: splits.test.length,
    },
    oos_recall_target: splits.hasOos ? recallTarget(MIN_OOS_RECALL, [...splits.val, ...splits.train].filter((r) => r.intent === OOS).length) : null,
    limit: parsed.limit,
    options: parsed.options,
    kefu,
    baseline,
  };
  mkdirSync('training/reports', { recursive: true });
  const file = join('training/reports', `bench-nlu-${splits.name}${parsed.limit ? `-limit${parsed.limit}` : ''}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`report: ${file}`);
  console.log(JSON.stringify({ dataset: splits.name, kefu: pick(kefu), baseline: pick(baseline) }));
}

// Run only as a script, so that predictIntent() can be imported without starting a benchmark.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    if (e instanceof KefuError) {
      console.error(e.message);
      process.exit(e.code === 'KEFU_CLI_USAGE' ? 2 : 1);
    }
    throw e;
  });
}
