import * as OpenCC from 'opencc-js';
import type { Locale } from '../domain/types.ts';
import type { Brand } from '../config.ts';
import type { Topic } from '../pack/pack-loader.ts';

const twToCn = OpenCC.Converter({ from: 'twp', to: 'cn' });
const cnToTw = OpenCC.Converter({ from: 'cn', to: 'twp' });

const TEMPLATES = {
  'zh-TW': {
    clarify: '請問您想詢問的是以下哪一項呢？',
    fallback: '不好意思，我不太確定您的意思，可以換個說法再問一次嗎？',
    fallbackWithSuggestions: '不好意思，我不太確定您的意思。您是想詢問以下項目嗎？也可以換個說法再問一次。',
    handoff: '好的，正在為您轉接真人客服，請稍候。',
    repeatedFallback: '抱歉我還無法回答這個問題，正在為您轉接真人客服，請稍候。',
    empty: '請輸入您想詢問的問題。',
  },
  'zh-CN': {
    clarify: '请问您想咨询的是以下哪一项呢？',
    fallback: '不好意思，我不太确定您的意思，可以换个说法再问一次吗？',
    fallbackWithSuggestions: '不好意思，我不太确定您的意思。您是想咨询以下项目吗？也可以换个说法再问一次。',
    handoff: '好的，正在为您转接人工客服，请稍候。',
    repeatedFallback: '抱歉我还无法回答这个问题，正在为您转接人工客服，请稍候。',
    empty: '请输入您想咨询的问题。',
  },
  en: {
    clarify: 'Which of these did you mean?',
    fallback: "Sorry, I'm not sure what you mean. Could you say it another way?",
    fallbackWithSuggestions: "Sorry, I'm not sure what you mean. Did you mean one of these? You can also say it another way.",
    handoff: 'Sure, I am connecting you to a human agent. Please wait a moment.',
    repeatedFallback: "Sorry, I can't answer that yet. I am connecting you to a human agent. Please wait a moment.",
    empty: 'Please type your question.',
  },
} satisfies Record<Locale, Record<string, string>>;

export type ReplyKind = keyof (typeof TEMPLATES)['zh-TW'];

/** A fixed reply of the router in the customer's locale. */
export function fixedReply(kind: ReplyKind, locale: Locale): string {
  return TEMPLATES[locale][kind];
}

function fill(text: string, brand: Brand): string {
  return text.replace(/\{(bot|bank|insurer|bank_hotline|life_hotline)\}/g, (_, k: keyof Brand) => brand[k]);
}

// A pack written in one Chinese script still serves the other: the text is converted rather than left missing.
function inLocale(values: Partial<Record<Locale, string>>, locale: Locale): string {
  const direct = values[locale];
  if (direct) return direct;
  if (locale === 'zh-CN' && values['zh-TW']) return twToCn(values['zh-TW']);
  if (locale === 'zh-TW' && values['zh-CN']) return cnToTw(values['zh-CN']);
  return values['zh-TW'] ?? values['zh-CN'] ?? values.en ?? '';
}

/** The topic's answer for the customer, with the brand filled in. */
export function topicAnswer(topic: Topic, locale: Locale, brand: Brand): string {
  return fill(inLocale(topic.answer, locale), brand).trim();
}

/** The topic's short title for buttons. */
export function topicTitle(topic: Topic, locale: Locale, brand: Brand): string {
  return fill(inLocale(topic.title, locale), brand);
}
