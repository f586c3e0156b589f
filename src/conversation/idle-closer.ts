import type { Locale } from '../domain/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { ConversationService } from './conversation-service.ts';

export interface IdleCloser {
  /** Closes every conversation idle now (in batches); resolves with how many it closed. */
  sweep(): Promise<number>;
  /** Stops the timer; a sweep under way finishes. */
  stop(): Promise<void>;
}

export interface IdleCloserOptions {
  service: Pick<ConversationService, 'closeIdle'>;
  store: Pick<Store, 'listIdleConversations'>;
  log: Logger;
  idleMinutes: number;
  /** How often to look (default a minute). */
  everyMs?: number;
  now?: () => number;
}

const BATCH = 200;
const EVERY_MS = 60_000;

const NOTICE: Record<Locale, (minutes: number) => string> = {
  'zh-TW': (m) => `由於已超過 ${m} 分鐘沒有新訊息，本次對話已結束。如還有任何問題，歡迎隨時再傳訊息給我們。`,
  'zh-CN': (m) => `由于已超过 ${m} 分钟没有新消息，本次对话已结束。如还有任何问题，欢迎随时再发消息给我们。`,
  en: (m) => `This chat has ended after ${m} minutes without a message. Write to us again any time if you need anything else.`,
};

/** Closes conversations left with the bot and quiet for `idleMinutes`, once a minute, with a notice in their language. */
export function startIdleCloser(opts: IdleCloserOptions): IdleCloser {
  const now = opts.now ?? Date.now;
  const notice = (locale: Locale): string => NOTICE[locale](opts.idleMinutes);
  let running: Promise<number> | null = null;
  let stopped = false;

  const sweepOnce = async (): Promise<number> => {
    const idleSince = new Date(now() - opts.idleMinutes * 60_000).toISOString();
    let closed = 0;
    // Oldest first, a batch at a time, so a backlog (after downtime, say) never loads all of them at once.
    for (;;) {
      const batch = await opts.store.listIdleConversations(idleSince, BATCH);
      let failed = 0;
      for (const c of batch) {
        if (stopped) return closed;
        try {
          if (await opts.service.closeIdle(c.id, idleSince, notice)) closed++;
        } catch (err) {
          failed++;
          opts.log.warn({ err, conversationId: c.id }, 'could not close an idle conversation');
        }
      }
      // A batch that failed throughout would come back the same: the next sweep tries again, not this one for ever.
      if (batch.length < BATCH || stopped || failed === batch.length) return closed;
    }
  };
  const sweep = (): Promise<number> => {
    running ??= sweepOnce().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => opts.log.error({ err }, 'idle conversation sweep failed'));
  }, opts.everyMs ?? EVERY_MS);
  // Never what keeps a process alive.
  timer.unref();

  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
