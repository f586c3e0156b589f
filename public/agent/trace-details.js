// A bot turn's decision, folded away under the message: brain, topic, confidence, candidates, the rule that decided.
import { h } from '/widget/dom.js';
import { OUTCOME, percent } from './labels.js';

const candidates = (title, list) => (list && list.length
  ? h('div', { class: 'candidates' }, h('span', { class: 'trace-key' }, title),
    h('ol', {}, ...list.map((c) => h('li', {}, `${c.topic} `, h('span', { class: 'conf' }, percent(c.confidence))))))
  : null);

/** A <details> with the outcome's trace; null for messages without one. */
export function traceDetails(outcome) {
  if (!outcome) return null;
  const { trace } = outcome;
  const low = outcome.confidence < (outcome.brain === 'faq' ? trace.thresholds.faq : trace.thresholds.nlu);
  return h('details', { class: 'trace' },
    h('summary', {}, `判斷：${OUTCOME[outcome.outcome] ?? outcome.outcome} · ${outcome.brain ?? '—'} · ${outcome.topic ?? '無主題'} · `,
      h('span', { class: `conf${low ? ' low' : ''}` }, percent(outcome.confidence))),
    h('dl', {},
      h('dt', {}, '大腦'), h('dd', {}, outcome.brain ?? '—'),
      h('dt', {}, '主題'), h('dd', {}, outcome.topic ?? '—'),
      h('dt', {}, '信心'), h('dd', {}, percent(outcome.confidence)),
      h('dt', {}, '規則'), h('dd', {}, trace.rule),
      h('dt', {}, '門檻'), h('dd', {}, `FAQ ${trace.thresholds.faq} · NLU ${trace.thresholds.nlu} · 差距 ${trace.thresholds.clarifyMargin}`),
      h('dt', {}, '正規化'), h('dd', {}, trace.normalised),
      h('dt', {}, '耗時'), h('dd', {}, `${trace.ms} ms`)),
    candidates('FAQ 候選', trace.faq?.candidates),
    candidates('NLU 候選', trace.nlu?.candidates),
    trace.nlu?.entities?.length ? h('p', {}, h('span', { class: 'trace-key' }, '實體 '), trace.nlu.entities.map((e) => `${e.type}=${e.value}`).join('、')) : null);
}
