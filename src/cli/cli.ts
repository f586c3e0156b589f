import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KefuError, isKefuError } from '../errors.ts';
import { loadConfig, type Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  pack: { type: 'string' },
  'log-level': { type: 'string' },
};

const COMMON_HELP = `  --config FILE     JSON config file (default: $KEFU_CONFIG)
  --pack DIR        knowledge pack folder (default: intents)
  --log-level LVL   fatal|error|warn|info|debug|silent (logs go to stderr)
  -h, --help        this help`;

export interface CliContext<V> {
  values: V;
  positionals: string[];
  config: Config;
  log: Logger;
}

/** Runs a CLI: parses argv against `options`, prints `usage` for --help, builds config and logger, reports KefuErrors as one line on stderr with exit code 2. */
export async function runCli<O extends Options>(
  usage: string,
  options: O,
  main: (ctx: CliContext<Record<string, string | boolean | undefined>>) => Promise<void>,
  argv = process.argv.slice(2),
): Promise<void> {
  try {
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new KefuError('KEFU_CLI_USAGE', [`${(e as Error).message}\n\n${usage}\n${COMMON_HELP}`]);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (values.help) {
      process.stdout.write(`${usage}\n${COMMON_HELP}\n`);
      return;
    }
    const overrides: Record<string, unknown> = {};
    if (typeof values.pack === 'string') overrides.packDir = values.pack;
    if (typeof values['log-level'] === 'string') overrides.logLevel = values['log-level'];
    const config = loadConfig({ file: typeof values.config === 'string' ? values.config : undefined, env: process.env, overrides });
    const log = createLogger(config);
    await main({ values, positionals: parsed.positionals, config, log });
  } catch (e) {
    if (isKefuError(e)) {
      process.stderr.write(`kefu: ${e.code}: ${e.message}\n`);
      for (const d of e.details.slice(0, 50)) process.stderr.write(`  ${d}\n`);
      if (e.details.length > 50) process.stderr.write(`  … and ${e.details.length - 50} more\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
