// The left column: the queue of my groups (pushed by the /agent socket) and the conversations the bot is serving
// now, which an agent may take over. Waiting times tick locally between pushes.
import { h } from '/widget/dom.js';
import { CHANNEL, OUTCOME, TRIGGER, duration, groupLabel, priorityLabel } from './labels.js';

/** Creates the panel; `onClaim(conversationId, label)` is called for 接手 and 接管. */
export function createQueuePanel({ onClaim }) {
  const queueList = h('ul', { class: 'list', 'aria-label': '排隊中的對話' });
  const liveList = h('ul', { class: 'list', 'aria-label': '機器人服務中的對話' });
  const queueCount = h('span', { class: 'count' }, '0');
  const liveCount = h('span', { class: 'count' }, '0');
  const el = h('aside', { class: 'sidebar' },
    h('section', { class: 'queue', 'aria-labelledby': 'queue-title' },
      h('h2', { id: 'queue-title' }, '等候佇列 ', queueCount), queueList),
    h('section', { class: 'live', 'aria-labelledby': 'live-title' },
      h('h2', { id: 'live-title' }, '機器人對話中 ', liveCount), liveList));

  let queue = [];
  let receivedAt = Date.now();
  let live = new Map();

  const waiting = (item) => item.waitingSeconds + (Date.now() - receivedAt) / 1000;

  function renderQueue() {
    queueCount.textContent = String(queue.length);
    if (queue.length === 0) return queueList.replaceChildren(h('li', { class: 'empty' }, '目前沒有客戶在等候'));
    queueList.replaceChildren(...queue.map((item) => {
      const { handoff, conversation, preview } = item;
      const name = `客戶 ${conversation.customerId.slice(-6)}`;
      return h('li', { class: `item${handoff.priority > 0 ? ' urgent' : ''}`, 'data-conversation-id': conversation.id },
        h('div', { class: 'item-head' },
          h('span', { class: `badge priority${handoff.priority > 0 ? ' high' : ''}` }, priorityLabel(handoff.priority)),
          h('strong', {}, name),
          h('span', { class: 'wait', 'data-waiting': '' }, duration(waiting(item)))),
        h('div', { class: 'item-meta' },
          `${TRIGGER[handoff.trigger] ?? handoff.trigger} · ${groupLabel(handoff.group)}${handoff.topic ? ` · ${handoff.topic}` : ''} · ${CHANNEL[conversation.channel] ?? conversation.channel}`,
          handoff.kind === 'callback' ? ' · 留言回電' : ''),
        preview ? h('p', { class: 'preview' }, preview.text) : null,
        // Named with the customer: a screen reader's list of buttons is otherwise "接手, 接手, 接手…".
        h('button', { type: 'button', class: 'primary small', 'aria-label': `接手 ${name}`, onClick: () => onClaim(conversation.id, name) }, '接手'));
    }));
  }

  function renderLive() {
    const rows = [...live.values()].sort((a, b) => b.conversation.updatedAt.localeCompare(a.conversation.updatedAt));
    liveCount.textContent = String(rows.length);
    if (rows.length === 0) return liveList.replaceChildren(h('li', { class: 'empty' }, '目前沒有進行中的機器人對話'));
    liveList.replaceChildren(...rows.map(({ conversation, preview, lastOutcome }) => {
      const name = `客戶 ${conversation.customerId.slice(-6)}`;
      return h('li', { class: 'item', 'data-conversation-id': conversation.id },
        h('div', { class: 'item-head' }, h('strong', {}, name),
          lastOutcome ? h('span', { class: `badge outcome-${lastOutcome.outcome}` }, OUTCOME[lastOutcome.outcome] ?? lastOutcome.outcome) : null),
        preview ? h('p', { class: 'preview' }, preview.text) : null,
        lastOutcome?.topic ? h('div', { class: 'item-meta' }, lastOutcome.topic) : null,
        h('button', { type: 'button', class: 'small', 'aria-label': `接管對話 ${name}`, onClick: () => onClaim(conversation.id, name) }, '接管對話'));
    }));
  }

  // Waiting times move every few seconds without a push; only the numbers change, so focus stays where it is.
  const ticker = setInterval(() => {
    queueList.querySelectorAll('[data-waiting]').forEach((span, i) => {
      if (queue[i]) span.textContent = duration(waiting(queue[i]));
    });
  }, 5000);

  renderQueue();
  renderLive();
  return {
    el,
    setQueue(items) {
      queue = items;
      receivedAt = Date.now();
      renderQueue();
    },
    setLive(conversations) {
      live = new Map(conversations.map((c) => [c.conversation.id, c]));
      renderLive();
    },
    /** A message in a bot-held conversation: move it up with the new preview. */
    liveMessage(conversation, message) {
      const prev = live.get(conversation.id);
      const outcome = message.outcome ? { outcome: message.outcome.outcome, topic: message.outcome.topic } : prev?.lastOutcome ?? null;
      live.set(conversation.id, {
        conversation,
        preview: message.author === 'customer' ? { text: message.text, createdAt: message.createdAt } : prev?.preview ?? null,
        lastOutcome: outcome,
        messageCount: (prev?.messageCount ?? 0) + 1,
      });
      renderLive();
    },
    /** A conversation left (or came back to) the bot. */
    liveState(conversation) {
      if (conversation.state !== 'bot') live.delete(conversation.id);
      else if (live.has(conversation.id)) live.get(conversation.id).conversation = conversation;
      renderLive();
    },
    /** A conversation now belongs to a group I do not serve. */
    liveGone(conversationId) {
      if (live.delete(conversationId)) renderLive();
    },
    dispose: () => clearInterval(ticker),
  };
}
