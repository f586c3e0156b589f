import { z } from 'zod';
import { LOCALES } from '../domain/types.ts';

const localeKey = z.enum(LOCALES);
const topicId = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, 'topic id must look like "domain.name" (lower case, dots, underscores)');
const phrase = z.string().trim().min(1, 'phrase is empty').max(500, 'phrase is longer than 500 characters');
const perLocaleList = z.partialRecord(localeKey, z.array(phrase).min(3, 'needs at least 3 phrasings'));
const perLocaleText = z.partialRecord(localeKey, z.string().trim().min(1, 'text is empty'));

const topicBase = {
  id: topicId,
  /** Short label shown on clarify buttons and in the consoles ("信用卡掛失"). */
  title: perLocaleText,
  answer: perLocaleText,
  tags: z.array(z.string().min(1)).default([]),
  /** Related topics offered as suggestions when this one is only a near miss. */
  related: z.array(topicId).default([]),
};

export const faqSchema = z.strictObject({
  ...topicBase,
  questions: perLocaleList,
});

export const intentSchema = z.strictObject({
  ...topicBase,
  utterances: perLocaleList,
  /** Entity types this intent's dialog reads (card_type, amount, date, policy_number …). */
  entities: z.array(z.string().regex(/^[a-z_]+$/)).default([]),
  /** (V) the customer must be verified before any personal data is shown. */
  verify: z.boolean().default(false),
  /** (H) the topic always hands the conversation to a human. */
  handoff: z.boolean().default(false),
});

export const domainFileSchema = z.strictObject({
  faqs: z.array(faqSchema).default([]),
  intents: z.array(intentSchema).default([]),
  /** Things customers ask that this pack must NOT answer (other businesses, chit-chat off topic); used to learn rejection. */
  out_of_scope: perLocaleList.optional(),
});

export const packManifestSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  locales: z.array(localeKey).min(1),
  domains: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).min(1),
});

export type FaqEntry = z.infer<typeof faqSchema>;
export type IntentEntry = z.infer<typeof intentSchema>;
export type DomainFile = z.infer<typeof domainFileSchema>;
export type PackManifest = z.infer<typeof packManifestSchema>;
