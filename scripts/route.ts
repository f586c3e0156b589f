import { createInterface } from 'node:readline';
import { runCli } from '../src/cli/cli.ts';
import { startEngine } from '../src/engine.ts';
import { isKefuError } from '../src/errors.ts';

const USAGE = `Usage: npm run route -- [options] < utterances.txt
Reads one utterance per line on stdin and writes one JSON line per utterance on stdout:
  {"text","outcome":"answer"|"clarify"|"fallback"|"handoff","topic","brain":"faq"|"nlu"|null,"confidence","candidates":[{"topic","confidence"}]}
Trains the pack first when no current model matches it (logs on stderr).
  --conversation    treat the lines as one conversation (fallbacks in a row lead to handoff)
  --trace           add the router's trace and reply to each line`;

await runCli(USAGE, { conversation: { type: 'boolean' }, trace: { type: 'boolean' } }, async ({ values, config, log }) => {
  const engine = await startEngine(config, log);
  log.info({ model: engine.modelVersion, thresholds: engine.thresholds, source: engine.thresholdsSource }, 'routing stdin');
  let fallbacks = 0;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const text = line.replace(/\r$/, '');
    if (text.trim() === '') continue;
    try {
      const o = engine.router.route(text, { consecutiveFallbacks: values.conversation ? fallbacks : 0 });
      fallbacks = o.outcome === 'fallback' ? fallbacks + 1 : 0;
      const out: Record<string, unknown> = { text: o.text, outcome: o.outcome, topic: o.topic, brain: o.brain, confidence: o.confidence, candidates: o.candidates };
      if (values.trace) Object.assign(out, { reply: o.reply, options: o.options, entities: o.entities, trace: o.trace });
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } catch (e) {
      // One bad line must not end the stream: it gets an error line of its own.
      if (!isKefuError(e)) throw e;
      process.stdout.write(`${JSON.stringify({ text, error: e.toJSON() })}\n`);
    }
  }
});
