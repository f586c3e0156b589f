import type { Candidate, Entity } from '../../domain/types.ts';
import { extractEntities } from './entities.ts';
import type { TextClassifier } from './text-classifier.ts';

/** What the NLU brain understood of one message. */
export interface NluResult {
  /** Real topics only, best first; the out-of-scope class is reported apart. */
  candidates: Candidate[];
  /** Probability that the message is about nothing this pack covers. */
  outOfScope: number;
  entities: Entity[];
}

export interface NluBrain {
  understand(normalised: string, raw: string, k?: number): NluResult;
}

/** Wraps a trained intent classifier and the entity extractor into the NLU brain. */
export function createNluBrain(classifier: TextClassifier): NluBrain {
  return {
    understand(normalised, raw, k = 5) {
      const { candidates, outOfScope } = classifier.read(normalised, k);
      return { candidates, outOfScope, entities: extractEntities(raw) };
    },
  };
}
