import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/** The process logger: structured JSON on stderr, so a CLI's stdout carries only its results. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { app: 'kefu' } }, pino.destination(2));
}
