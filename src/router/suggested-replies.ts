import type { Brand } from '../config.ts';
import type { Locale } from '../domain/types.ts';
import type { FaqIndex } from '../brains/faq/faq-index.ts';
import type { Topic } from '../pack/pack-loader.ts';
import { normalise } from '../text/normalise.ts';
import { topicAnswer, topicTitle } from './replies.ts';

/** One answer an agent may insert (and edit) for the customer's message. */
export interface SuggestedReply {
  topic: string;
  title: string;
  /** The topic's answer in the conversation's locale, brand filled in. */
  answer: string;
  /** The FAQ brain's calibrated confidence that this FAQ answers the message. */
  confidence: number;
}

/** The FAQ brain's best answers for a customer's text, best first. */
export type SuggestReplies = (text: string, k?: number, locale?: Locale) => SuggestedReply[];

/**
 * Suggested replies for the agent console: the customer's text through the FAQ index, each hit with its pack
 * answer. Low confidences are kept (and shown as low): the agent decides, and a weak hit still saves typing.
 */
export function createReplySuggester(opts: { faq: FaqIndex; topics: readonly Topic[]; brand: Brand; locale: Locale }): SuggestReplies {
  const topics = new Map(opts.topics.map((t) => [t.id, t]));
  return (text, k = 3, locale = opts.locale) => {
    const normalised = normalise(text);
    if (normalised === '') return [];
    const out: SuggestedReply[] = [];
    for (const c of opts.faq.search(normalised, Math.max(1, Math.min(k, 10)))) {
      const topic = topics.get(c.topic);
      if (!topic) continue;
      out.push({ topic: c.topic, title: topicTitle(topic, locale, opts.brand), answer: topicAnswer(topic, locale, opts.brand), confidence: Math.round(c.confidence * 10_000) / 10_000 });
    }
    return out;
  };
}
