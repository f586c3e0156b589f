import { HUMAN_TOPIC, type BrainName, type Candidate, type Locale, type Outcome, type OutcomeKind, type Trace } from '../domain/types.ts';
import type { Brand, Thresholds } from '../config.ts';
import type { Topic } from '../pack/pack-loader.ts';
import type { FaqIndex } from '../brains/faq/faq-index.ts';
import type { NluBrain, NluResult } from '../brains/nlu/nlu-brain.ts';
import { KefuError } from '../errors.ts';
import { normalise } from '../text/normalise.ts';
import { isHumanRequest } from './human-request.ts';
import { fixedReply, topicAnswer, topicTitle } from './replies.ts';
import { createReplySuggester, type SuggestReplies } from './suggested-replies.ts';

/** What the router needs to know about the conversation so far. */
export interface RouteState {
  /** Fallbacks in a row before this message. */
  consecutiveFallbacks: number;
  locale?: Locale;
}

export interface RouterOptions {
  faq: FaqIndex;
  nlu: NluBrain;
  topics: readonly Topic[];
  thresholds: Thresholds;
  brand: Brand;
  locale: Locale;
  maxFallbacks: number;
  maxTextLength?: number;
  /** Topic answered when the customer explicitly asks for a person. */
  humanTopic?: string;
}

/** What the brains said about a message, as `decide` takes it. */
export interface Reading {
  faq: Candidate[];
  nlu: NluResult;
}

export interface Router {
  readonly thresholds: Thresholds;
  route(text: string, state?: RouteState): Outcome;
  /** The decision alone, from what the brains already said: lets evaluation replay routing under other thresholds. */
  decide(text: string, normalised: string, reading: Reading | null, state?: RouteState): Outcome;
  /**
   * Suggested replies for the agent console from this router's own FAQ brain and topics, so that putting another
   * router in service can never leave suggestions on the old model. Absent on a router with no FAQ brain of its
   * own (a scripted one in tests).
   */
  readonly suggest?: SuggestReplies;
}

interface Scored extends Candidate {
  brain: BrainName;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The dual-brain router: FAQ first when confident, else NLU; clarify, fall back or hand off otherwise. */
export function createRouter(opts: RouterOptions): Router {
  const topics = new Map(opts.topics.map((t) => [t.id, t]));
  const th = opts.thresholds;
  const humanTopic = opts.humanTopic ?? HUMAN_TOPIC;
  const maxLen = opts.maxTextLength ?? 2000;

  const router: Router = {
    thresholds: th,
    suggest: createReplySuggester({ faq: opts.faq, topics: opts.topics, brand: opts.brand, locale: opts.locale }),
    route(text, state = { consecutiveFallbacks: 0 }) {
      if (text.length > maxLen) throw new KefuError('KEFU_TEXT_TOO_LONG', [String(maxLen)]);
      const started = performance.now();
      const normalised = normalise(text);
      // Brains are asked only when the rules before them do not already decide.
      const reading = normalised === '' || isHumanRequest(normalised) ? null : { faq: opts.faq.search(normalised, 5), nlu: opts.nlu.understand(normalised, text, 5) };
      const outcome = router.decide(text, normalised, reading, state);
      // The trace's time is the whole turn through the router, brains included, not the decision alone.
      outcome.trace.ms = round(performance.now() - started);
      return outcome;
    },
    decide(text, normalised, reading, state = { consecutiveFallbacks: 0 }) {
      const started = performance.now();
      const locale = state.locale ?? opts.locale;
      const trace: Trace = { normalised, faq: null, nlu: null, rule: '', thresholds: { ...th }, ms: 0 };
      const finish = (o: Omit<Outcome, 'text' | 'trace' | 'entities' | 'candidates'> & { candidates?: Scored[] }): Outcome => {
        trace.ms = round(performance.now() - started);
        const candidates = (o.candidates ?? []).slice(0, 5).map((c) => ({ topic: c.topic, confidence: round(c.confidence) }));
        return { text, ...o, confidence: round(o.confidence), candidates, entities: trace.nlu?.entities ?? [], trace };
      };
      const title = (id: string): { topic: string; title: string } => {
        const t = topics.get(id);
        return { topic: id, title: t ? topicTitle(t, locale, opts.brand) : id };
      };
      const decide = (kind: OutcomeKind, top: Scored | null, candidates: Scored[], rule: string, options: Scored[] = []): Outcome => {
        trace.rule = rule;
        const topic = top ? topics.get(top.topic) : undefined;
        let reply: string;
        if (kind === 'answer') reply = topic ? topicAnswer(topic, locale, opts.brand) : '';
        else if (kind === 'clarify') reply = fixedReply('clarify', locale);
        else if (kind === 'fallback') reply = fixedReply(normalised === '' ? 'empty' : options.length > 0 ? 'fallbackWithSuggestions' : 'fallback', locale);
        else reply = rule === 'repeated-fallback' ? fixedReply('repeatedFallback', locale) : topic ? topicAnswer(topic, locale, opts.brand) : fixedReply('handoff', locale);
        return finish({
          outcome: kind,
          topic: top?.topic ?? null,
          brain: top?.brain ?? null,
          confidence: top?.confidence ?? 0,
          candidates,
          reply,
          options: options.map((c) => title(c.topic)),
          needsVerification: kind === 'answer' && (topic?.verify ?? false),
        });
      };
      const fallback = (candidates: Scored[], rule: string, suggestions: Scored[]): Outcome => {
        // The state counts fallbacks before this one; reaching the limit hands off instead of asking again.
        if (state.consecutiveFallbacks + 1 >= opts.maxFallbacks) {
          return decide('handoff', null, candidates, 'repeated-fallback');
        }
        return decide('fallback', null, candidates, rule, suggestions);
      };

      if (normalised === '') return fallback([], 'empty', []);
      if (isHumanRequest(normalised) && topics.has(humanTopic)) {
        return decide('handoff', { topic: humanTopic, confidence: 1, brain: 'nlu' }, [], 'explicit-human');
      }

      const faqCandidates = reading?.faq ?? [];
      trace.faq = { candidates: faqCandidates.map((c) => ({ topic: c.topic, confidence: round(c.confidence) })) };
      const nlu = reading?.nlu ?? { candidates: [], outOfScope: 0, entities: [] };
      trace.nlu = { candidates: nlu.candidates.map((c) => ({ topic: c.topic, confidence: round(c.confidence) })), entities: nlu.entities };
      // Below its threshold the FAQ brain only informs the trace: measured on the default pack, ranking by the
      // NLU brain alone beats any fusion of the two (max, mean, noisy-OR) by 1–2 points of top-1 accuracy.
      const merged: Scored[] = nlu.candidates.filter((c) => topics.has(c.topic)).map((c) => ({ ...c, brain: 'nlu' }));

      const outcomeFor = (top: Scored): OutcomeKind => (topics.get(top.topic)?.handoff ? 'handoff' : 'answer');
      const faqTop = faqCandidates[0];
      if (faqTop && faqTop.confidence >= th.faq && topics.has(faqTop.topic)) {
        const top: Scored = { ...faqTop, brain: 'faq' };
        return decide(outcomeFor(top), top, merged, 'faq-confident');
      }
      const [top, second] = merged;
      if (!top) return fallback(merged, 'no-candidate', []);
      const close = merged.filter((c) => c.confidence >= th.clarifyMin && top.confidence - c.confidence < th.clarifyMargin);
      if (top.confidence >= th.nlu) {
        if (second && close.length >= 2) return decide('clarify', top, merged, 'close-runner-up', close.slice(0, 3));
        return decide(outcomeFor(top), top, merged, 'nlu-confident');
      }
      const plausible = merged.filter((c) => c.confidence >= th.clarifyMin).slice(0, 3);
      if (plausible.length >= 2 && close.length >= 2) return decide('clarify', top, merged, 'unsure-between', plausible);
      return fallback(merged, 'not-confident', plausible);
    },
  };
  return router;
}
