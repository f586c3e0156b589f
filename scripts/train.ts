import { runCli } from '../src/cli/cli.ts';
import { loadPack } from '../src/pack/pack-loader.ts';
import { trainAndSave } from '../src/engine.ts';

const USAGE = `Usage: npm run train -- [options]
Trains the FAQ brain and the NLU brain for the configured knowledge pack and writes a new model version
to training/models/<pack>/<timestamp>-<pack hash>.json, then makes it current. Prints a JSON summary.`;

await runCli(USAGE, {}, async ({ config, log }) => {
  const pack = loadPack(config.packDir);
  const { model, version, path } = await trainAndSave(config, pack, log);
  const summary = { pack: pack.name, packHash: pack.hash, version, path, topics: pack.topics.length, trainSeconds: model.trainSeconds };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
