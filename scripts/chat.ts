import { createInterface } from 'node:readline/promises';
import { runCli } from '../src/cli/cli.ts';
import { startEngine } from '../src/engine.ts';
import { isKefuError } from '../src/errors.ts';

const USAGE = `Usage: npm run chat -- [options]
Chat with the bot in the terminal using the configured knowledge pack. Type /trace to toggle the router's
trace, /quit to leave. Numbers pick a quick reply.`;

await runCli(USAGE, {}, async ({ config, log }) => {
  const engine = await startEngine(config, log);
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  say(`${config.brand.bot}：您好，我是${config.brand.bank}與${config.brand.insurer}的智能客服${config.brand.bot}，請問有什麼可以幫您？`);
  let fallbacks = 0;
  let showTrace = false;
  let options: { topic: string; title: string }[] = [];
  for (;;) {
    let line: string;
    try {
      line = (await rl.question('您：')).trim();
    } catch {
      break; // stdin closed
    }
    if (line === '/quit' || line === '/exit') break;
    if (line === '/trace') {
      showTrace = !showTrace;
      continue;
    }
    if (line === '') continue;
    const picked = /^\d+$/.test(line) ? options[Number(line) - 1] : undefined;
    const text = picked ? picked.title : line;
    try {
      const o = engine.router.route(text, { consecutiveFallbacks: fallbacks });
      fallbacks = o.outcome === 'fallback' ? fallbacks + 1 : 0;
      say(`${config.brand.bot}：${o.reply}`);
      options = o.options;
      options.forEach((opt, i) => say(`  ${i + 1}. ${opt.title}`));
      if (o.needsVerification) say('  （此項目需先完成身分驗證）');
      if (o.outcome === 'handoff') say('  （已轉入真人客服佇列）');
      if (showTrace) say(`  [${o.outcome} ${o.topic ?? '-'} ${o.brain ?? '-'} ${o.confidence}] ${JSON.stringify(o.candidates)}`);
    } catch (e) {
      if (!isKefuError(e)) throw e;
      say(`${config.brand.bot}：${e.message}`);
    }
  }
  rl.close();
});
