import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli } from '../src/cli/cli.ts';
import { loadPack } from '../src/pack/pack-loader.ts';
import { buildModel } from '../src/model/build-model.ts';
import { replayRouter } from '../src/engine.ts';
import type { Thresholds } from '../src/config.ts';
import { crossValidate, readWith, type LabelledUtterance } from '../src/training/cross-validate.ts';
import { scoreRouting, tuneThresholds } from '../src/training/score-routing.ts';
import { confusedPairs, perTopicMetrics } from '../src/training/evaluation-report.ts';
import { KefuError } from '../src/errors.ts';

const USAGE = `Usage: npm run evaluate -- [options]
Cross-validates the configured pack (stratified k-fold over its own phrases and out-of-scope examples),
tunes the router's thresholds on the cross-validated readings, and writes training/reports/evaluate-<pack>.{json,md}
and the tuned thresholds to training/thresholds.json (read at start-up). Optionally scores a held-out set.
  --folds K          number of folds (default 5)
  --heldout FILE     JSONL of {"text","topic"} (topic null = out of scope) scored with a model trained on the whole pack
  --no-write         do not update the thresholds file`;

await runCli(USAGE, { folds: { type: 'string' }, heldout: { type: 'string' }, 'no-write': { type: 'boolean' } }, async ({ values, config, log }) => {
  const k = Number(values.folds ?? 5);
  if (!Number.isInteger(k) || k < 2 || k > 20) throw new KefuError('KEFU_CLI_USAGE', ['--folds must be a whole number from 2 to 20']);
  const pack = loadPack(config.packDir);
  const started = performance.now();
  const readings = await crossValidate(pack, k, 7, (fold) => log.info({ fold: fold + 1, of: k }, 'cross-validation fold'));
  const cvSeconds = Math.round((performance.now() - started) / 100) / 10;
  // Routing is replayed from the readings, so the router needs the pack's topics but no trained brains.
  const replay = (t: Thresholds) => replayRouter(config, pack, t);
  const tuned = tuneThresholds(replay, readings);
  const { score, outcomes } = scoreRouting(replay(tuned.thresholds), readings);
  const topics = perTopicMetrics(readings, outcomes);
  const confused = confusedPairs(readings, outcomes);

  let heldout: { file: string; score: ReturnType<typeof scoreRouting>['score']; mistakes: { text: string; truth: string | null; got: string | null; outcome: string }[] } | null = null;
  if (typeof values.heldout === 'string') {
    const file = values.heldout;
    if (!existsSync(file)) throw new KefuError('KEFU_CLI_USAGE', [`held-out file ${file} does not exist`]);
    const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i): LabelledUtterance => {
      try {
        const j = JSON.parse(l) as { text?: unknown; topic?: unknown };
        if (typeof j.text !== 'string' || !(typeof j.topic === 'string' || j.topic === null)) throw new Error('needs "text" (string) and "topic" (string or null)');
        return { text: j.text, topic: j.topic };
      } catch (e) {
        throw new KefuError('KEFU_DATASET_INVALID', [`${file}:${i + 1}: ${(e as Error).message}`]);
      }
    });
    log.info({ rows: rows.length }, 'scoring held-out set with a model trained on the whole pack');
    const model = await buildModel(pack);
    const hr = rows.map((u) => readWith(model, u));
    const res = scoreRouting(replay(tuned.thresholds), hr);
    const mistakes = hr
      .map((r, i) => ({ r, o: res.outcomes[i]! }))
      .filter(({ r, o }) => (r.topic === null ? o.outcome === 'answer' || (o.outcome === 'handoff' && o.topic !== null) : o.topic !== r.topic || o.outcome === 'clarify' || o.outcome === 'fallback'))
      .map(({ r, o }) => ({ text: r.text, truth: r.topic, got: o.topic, outcome: o.outcome }));
    heldout = { file: relative(process.cwd(), file), score: res.score, mistakes };
  }

  const report = {
    pack: pack.name, packHash: pack.hash, folds: k, seconds: cvSeconds, createdAt: new Date().toISOString(),
    thresholds: tuned.thresholds, thresholdsTried: tuned.tried, crossValidated: score, heldout, topics, confused,
  };
  mkdirSync(config.reportDir, { recursive: true });
  const jsonPath = join(config.reportDir, `evaluate-${pack.name}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(config.reportDir, `evaluate-${pack.name}.md`), markdown(report));
  if (!values['no-write']) {
    writeFileSync(config.thresholdsFile, `${JSON.stringify({ pack: pack.name, packHash: pack.hash, tunedAt: report.createdAt, score: score, thresholds: tuned.thresholds }, null, 2)}\n`);
  }
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `pack ${pack.name}: ${score.inScope} in-scope + ${score.outOfScope} out-of-scope phrases, ${k}-fold, ${cvSeconds}s`,
    `cross-validated top-1 accuracy ${pct(score.top1Accuracy)}; answered right ${pct(score.inScopeAccuracy)}, clarify with the right option ${pct(score.clarifyRight)}, wrong answer ${pct(score.wrongAnswerRate)}; out-of-scope answered ${pct(score.oosAnsweredRate)}`,
    `tuned thresholds ${JSON.stringify(tuned.thresholds)} (of ${tuned.tried})`,
  ];
  if (heldout) lines.push(`held-out ${heldout.file}: top-1 ${pct(heldout.score.top1Accuracy)}, answered right ${pct(heldout.score.inScopeAccuracy)}, wrong ${pct(heldout.score.wrongAnswerRate)}, out-of-scope answered ${pct(heldout.score.oosAnsweredRate)}`);
  lines.push(`report: ${relative(process.cwd(), jsonPath)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});

function markdown(r: {
  pack: string; folds: number; thresholds: object; crossValidated: ReturnType<typeof scoreRouting>['score'];
  heldout: { file: string; score: ReturnType<typeof scoreRouting>['score']; mistakes: { text: string; truth: string | null; got: string | null; outcome: string }[] } | null;
  topics: ReturnType<typeof perTopicMetrics>; confused: ReturnType<typeof confusedPairs>;
}): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const s = r.crossValidated;
  const row = (name: string, x: typeof s): string => `| ${name} | ${x.inScope} | ${x.outOfScope} | ${pct(x.top1Accuracy)} | ${pct(x.inScopeAccuracy)} | ${pct(x.clarifyRight)} | ${pct(x.wrongAnswerRate)} | ${pct(x.oosAnsweredRate)} |`;
  const out = [
    `# Evaluation of pack \`${r.pack}\``, '',
    `Thresholds tuned on ${r.folds}-fold cross-validated readings: \`${JSON.stringify(r.thresholds)}\``, '',
    '| set | in-scope | out-of-scope | top-1 | answered right | clarify (right option) | wrong answer | out-of-scope answered |',
    '|---|---|---|---|---|---|---|---|',
    row(`${r.folds}-fold cross-validation`, s),
  ];
  if (r.heldout) out.push(row(`held-out \`${r.heldout.file}\``, r.heldout.score));
  out.push('', '## Per topic (routed answers; out of scope as its own class)', '', '| topic | support | precision | recall | F1 |', '|---|---|---|---|---|');
  for (const t of r.topics) out.push(`| ${t.topic} | ${t.support} | ${t.precision.toFixed(3)} | ${t.recall.toFixed(3)} | ${t.f1.toFixed(3)} |`);
  out.push('', '## Most confused pairs (top-ranked topic)', '', '| truth | ranked first | count | example |', '|---|---|---|---|');
  for (const c of r.confused) out.push(`| ${c.truth} | ${c.predicted} | ${c.count} | ${c.example.replace(/\|/g, '\\|')} |`);
  if (r.heldout && r.heldout.mistakes.length > 0) {
    out.push('', '## Held-out mistakes', '', '| text | truth | got | outcome |', '|---|---|---|---|');
    for (const m of r.heldout.mistakes) out.push(`| ${m.text.replace(/\|/g, '\\|')} | ${m.truth ?? '(oos)'} | ${m.got ?? '-'} | ${m.outcome} |`);
  }
  return `${out.join('\n')}\n`;
}
