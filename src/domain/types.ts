/** Locales a knowledge pack and a conversation can be in. */
export const LOCALES = ['zh-TW', 'zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

/** What the router decided to do with one customer message. */
export type OutcomeKind = 'answer' | 'clarify' | 'fallback' | 'handoff';

/** The topic of "let me talk to a person" (我要找真人): a handoff that says nothing of what the customer needs. */
export const HUMAN_TOPIC = 'human.agent';

/** Which brain produced the decision; null when none was confident. */
export type BrainName = 'faq' | 'nlu';

/** One scored topic, as either brain ranks them. */
export interface Candidate {
  topic: string;
  confidence: number;
}

/** An entity found in the customer's text. */
export interface Entity {
  type: string;
  value: string;
  text: string;
  start: number;
  end: number;
}

/** Why the router decided as it did: stored with every bot turn and shown to agents and trainers. */
export interface Trace {
  normalised: string;
  faq: { candidates: Candidate[] } | null;
  nlu: { candidates: Candidate[]; entities: Entity[] } | null;
  rule: string;
  thresholds: { faq: number; nlu: number; clarifyMargin: number; clarifyMin: number };
  ms: number;
}

/** The router's decision for one message. */
export interface Outcome {
  text: string;
  outcome: OutcomeKind;
  topic: string | null;
  brain: BrainName | null;
  confidence: number;
  candidates: Candidate[];
  entities: Entity[];
  /** The reply text for the customer (answer, clarify question, fallback or handoff notice). */
  reply: string;
  /** Quick-reply buttons: clarify options or fallback suggestions. */
  options: { topic: string; title: string }[];
  needsVerification: boolean;
  trace: Trace;
}
