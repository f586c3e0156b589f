import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Conversation, ConversationState, Message } from '../domain/conversation.ts';
import type { Agent, AgentRole, AgentSession } from '../domain/agent.ts';
import type { ConversationNote, CustomerProfile, Disposition, Handoff, HandoffEndReason, HandoffKind, HandoffStatus, HandoffTrigger } from '../domain/handoff.ts';
import { KefuError } from '../errors.ts';
import type { AgentStore, HandoffStore } from './store.ts';
import type { ConversationRow, MessageRow } from './sqlite-store.ts';

// The SQLite side of the handoff queue, console accounts, notes and customer profiles. Every move of a conversation
// between bot, queue and agent is one transaction whose UPDATE is conditional on the state it expects: better-sqlite3
// runs a transaction synchronously, and SQLite's write lock serialises processes, so of two agents claiming at once
// exactly one UPDATE changes a row. The partial unique index handoffs_open backs this up inside the database.

interface HandoffRow {
  id: string; conversation_id: string; kind: string; trigger: string; topic: string | null; queue_group: string; priority: number;
  target_agent_id: string | null; status: string; agent_id: string | null; queued_at: string; claimed_at: string | null;
  first_reply_at: string | null; ended_at: string | null; end_reason: string | null; disposition: string | null; ended_by: string | null;
  callback_text: string | null; callback_contact_time: string | null; previous_id: string | null;
}
interface AgentRow {
  id: string; username: string; display_name: string; role: string; groups: string; password_hash: string; disabled: number;
  created_at: string; updated_at: string; last_login_at: string | null;
}
interface SessionRow { token_hash: string; agent_id: string; created_at: string; expires_at: string }
interface NoteRow { id: string; conversation_id: string; agent_id: string; text: string; created_at: string }
interface ProfileRow {
  channel: string; customer_id: string; verified: number; verified_at: string | null; display_name: string | null; data: string; updated_at: string;
}

const toHandoff = (r: HandoffRow): Handoff => ({
  id: r.id, conversationId: r.conversation_id, kind: r.kind as HandoffKind, trigger: r.trigger as HandoffTrigger, topic: r.topic,
  group: r.queue_group, priority: r.priority, targetAgentId: r.target_agent_id, status: r.status as HandoffStatus, agentId: r.agent_id,
  queuedAt: r.queued_at, claimedAt: r.claimed_at, firstReplyAt: r.first_reply_at, endedAt: r.ended_at,
  endReason: r.end_reason as HandoffEndReason | null, disposition: r.disposition as Disposition | null, endedBy: r.ended_by,
  callback: r.callback_text === null ? null : { text: r.callback_text, contactTime: r.callback_contact_time }, previousId: r.previous_id,
});
const toAgent = (r: AgentRow): Agent => ({
  id: r.id, username: r.username, displayName: r.display_name, role: r.role as AgentRole, groups: JSON.parse(r.groups) as string[],
  disabled: r.disabled === 1, createdAt: r.created_at, updatedAt: r.updated_at, lastLoginAt: r.last_login_at,
});
const toSession = (r: SessionRow): AgentSession => ({ tokenHash: r.token_hash, agentId: r.agent_id, createdAt: r.created_at, expiresAt: r.expires_at });
const toNote = (r: NoteRow): ConversationNote => ({ id: r.id, conversationId: r.conversation_id, agentId: r.agent_id, text: r.text, createdAt: r.created_at });
const toProfile = (r: ProfileRow): CustomerProfile => ({
  channel: r.channel as CustomerProfile['channel'], customerId: r.customer_id, verified: r.verified === 1, verifiedAt: r.verified_at,
  displayName: r.display_name, data: JSON.parse(r.data) as Record<string, string>, updatedAt: r.updated_at,
});

// A customer whose agent left goes back to the front of their priority (they were already being served), ahead of
// customers who joined before them and still wait. rowid breaks ties in insertion order: two customers queued in the
// same millisecond are still served first come, first served.
const QUEUE_ORDER = `ORDER BY priority DESC, CASE kind WHEN 'chat' THEN 0 ELSE 1 END, CASE trigger WHEN 'release' THEN 0 ELSE 1 END, queued_at, rowid`;

export interface SqliteHandoffDeps {
  now: () => string;
  /** The SELECT that reads conversations with their holder (alias c). */
  conversationSelect: string;
  toConversation: (row: ConversationRow) => Conversation;
  toMessage: (row: MessageRow) => Message;
}

/** The handoff and account half of the SQLite store, over the same connection. */
export function sqliteHandoffStore(db: Database.Database, deps: SqliteHandoffDeps): HandoffStore & AgentStore {
  const { now } = deps;
  const q = {
    getConv: db.prepare(`${deps.conversationSelect} WHERE c.id = ?`),
    convToQueued: db.prepare(`UPDATE conversations SET state = 'queued', consecutive_fallbacks = 0, updated_at = @now WHERE id = @id AND state = 'bot'`),
    convBotToAgent: db.prepare(`UPDATE conversations SET state = 'agent', consecutive_fallbacks = 0, updated_at = @now WHERE id = @id AND state = 'bot'`),
    convQueuedToAgent: db.prepare(`UPDATE conversations SET state = 'agent', updated_at = @now WHERE id = @id AND state = 'queued'`),
    convAgentToQueued: db.prepare(`UPDATE conversations SET state = 'queued', updated_at = @now WHERE id = @id AND state = 'agent'`),
    convMove: db.prepare(`UPDATE conversations SET state = @state, consecutive_fallbacks = 0, updated_at = @now,
      closed_at = CASE WHEN @state = 'closed' THEN @now ELSE NULL END WHERE id = @id AND state != 'closed'`),
    insertHandoff: db.prepare(`INSERT INTO handoffs (id, conversation_id, kind, trigger, topic, queue_group, priority, target_agent_id, status, agent_id,
      queued_at, claimed_at, callback_text, callback_contact_time, previous_id)
      VALUES (@id, @conversationId, @kind, @trigger, @topic, @group, @priority, @targetAgentId, @status, @agentId, @now, @claimedAt, @callbackText, @callbackContactTime, @previousId)`),
    getHandoff: db.prepare('SELECT * FROM handoffs WHERE id = ?'),
    openHandoff: db.prepare(`SELECT * FROM handoffs WHERE conversation_id = ? AND status IN ('queued','claimed')`),
    listHandoffs: db.prepare('SELECT * FROM handoffs WHERE conversation_id = ? ORDER BY queued_at, rowid'),
    claim: db.prepare(`UPDATE handoffs SET status = 'claimed', agent_id = @agentId, claimed_at = @now WHERE id = @id AND status = 'queued'`),
    endClaimedAsTransfer: db.prepare(`UPDATE handoffs SET status = 'ended', ended_at = @now, end_reason = 'transferred', ended_by = @from
      WHERE id = @id AND status = 'claimed' AND (@from IS NULL OR agent_id = @from)`),
    endClaimedAsReleased: db.prepare(`UPDATE handoffs SET status = 'ended', ended_at = @now, end_reason = 'released', ended_by = NULL
      WHERE id = @id AND status = 'claimed' AND agent_id = @agentId`),
    end: db.prepare(`UPDATE handoffs SET status = 'ended', ended_at = @now, end_reason = @reason, disposition = @disposition, ended_by = @endedBy
      WHERE id = @id AND status IN ('queued','claimed')`),
    firstReply: db.prepare('UPDATE handoffs SET first_reply_at = COALESCE(first_reply_at, @now) WHERE id = @id'),
    callback: db.prepare(`UPDATE handoffs SET kind = 'callback', callback_text = @text, callback_contact_time = @contactTime WHERE id = @id AND status = 'queued'`),
    queueAll: db.prepare(`SELECT * FROM handoffs WHERE status = 'queued' ${QUEUE_ORDER}`),
    queueFor: db.prepare(`SELECT * FROM handoffs WHERE status = 'queued' AND (
      (target_agent_id IS NULL AND queue_group IN (SELECT value FROM json_each(@groups))) OR target_agent_id = @agentId) ${QUEUE_ORDER}`),
    claimed: db.prepare(`SELECT * FROM handoffs WHERE status = 'claimed' AND agent_id = ? ORDER BY claimed_at, rowid`),
    stats: db.prepare(`SELECT COUNT(*) AS samples,
        AVG(CASE WHEN trigger NOT IN ('pull', 'release') THEN (julianday(claimed_at) - julianday(queued_at)) * 86400 END) AS wait,
        AVG(CASE WHEN ended_at IS NOT NULL THEN (julianday(ended_at) - julianday(claimed_at)) * 86400 END) AS handling
      FROM (SELECT * FROM handoffs WHERE queue_group = @group AND claimed_at IS NOT NULL AND claimed_at >= @since ORDER BY claimed_at DESC LIMIT @limit)`),
    byState: db.prepare(`${deps.conversationSelect} WHERE c.state = @state AND c.updated_at >= @after ORDER BY c.updated_at DESC, c.id LIMIT @limit`),
    byStateIn: db.prepare(`${deps.conversationSelect} WHERE c.state = @state AND c.updated_at >= @after
      AND (c.topic_group IS NULL OR c.topic_group IN (SELECT value FROM json_each(@groups))) ORDER BY c.updated_at DESC, c.id LIMIT @limit`),
    latest: db.prepare('SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq'),
    insertNote: db.prepare('INSERT INTO conversation_notes (id, conversation_id, agent_id, text, created_at) VALUES (@id, @conversationId, @agentId, @text, @now)'),
    getNote: db.prepare('SELECT * FROM conversation_notes WHERE id = ?'),
    notes: db.prepare('SELECT * FROM conversation_notes WHERE conversation_id = ? ORDER BY created_at, rowid'),
    getProfile: db.prepare('SELECT * FROM customer_profiles WHERE channel = ? AND customer_id = ?'),
    upsertProfile: db.prepare(`INSERT INTO customer_profiles (channel, customer_id, verified, verified_at, display_name, data, updated_at)
      VALUES (@channel, @customerId, @verified, @verifiedAt, @displayName, @data, @now)
      ON CONFLICT (channel, customer_id) DO UPDATE SET verified = excluded.verified, verified_at = excluded.verified_at,
        display_name = excluded.display_name, data = excluded.data, updated_at = excluded.updated_at`),
    insertAgent: db.prepare(`INSERT INTO agents (id, username, display_name, role, groups, password_hash, created_at, updated_at)
      VALUES (@id, @username, @displayName, @role, @groups, @passwordHash, @now, @now)`),
    getAgent: db.prepare('SELECT * FROM agents WHERE id = ?'),
    agentByName: db.prepare('SELECT * FROM agents WHERE username = ?'),
    agents: db.prepare('SELECT * FROM agents ORDER BY username'),
    insertSession: db.prepare('INSERT INTO agent_sessions (token_hash, agent_id, created_at, expires_at) VALUES (@tokenHash, @agentId, @createdAt, @expiresAt)'),
    getSession: db.prepare('SELECT * FROM agent_sessions WHERE token_hash = ?'),
    deleteSession: db.prepare('DELETE FROM agent_sessions WHERE token_hash = ?'),
    agentSessions: db.prepare('SELECT token_hash FROM agent_sessions WHERE agent_id = ?'),
    deleteAgentSessions: db.prepare('DELETE FROM agent_sessions WHERE agent_id = ?'),
    deleteExpired: db.prepare('DELETE FROM agent_sessions WHERE expires_at < ?'),
  };

  const conv = (id: string): Conversation | null => {
    const row = q.getConv.get(id) as ConversationRow | undefined;
    return row ? deps.toConversation(row) : null;
  };
  const mustConv = (id: string): Conversation => {
    const c = conv(id);
    if (!c) throw new KefuError('KEFU_CONVERSATION_NOT_FOUND', [id]);
    return c;
  };
  const handoff = (id: string): Handoff | null => {
    const row = q.getHandoff.get(id) as HandoffRow | undefined;
    return row ? toHandoff(row) : null;
  };
  const mustHandoff = (id: string): Handoff => {
    const h = handoff(id);
    if (!h) throw new KefuError('KEFU_CONVERSATION_STATE', [`(handoff ${id})`, 'unknown', 'no such handoff']);
    return h;
  };
  // Why a conditional conversation UPDATE changed nothing, as the error the caller should see.
  const refuse = (id: string, wanted: string): never => {
    const c = mustConv(id);
    if (c.state === 'closed') throw new KefuError('KEFU_CONVERSATION_CLOSED', [id]);
    if (c.state === 'agent') {
      const open = q.openHandoff.get(id) as HandoffRow | undefined;
      throw new KefuError('KEFU_ALREADY_CLAIMED', [id, open?.agent_id ?? 'another agent']);
    }
    throw new KefuError('KEFU_CONVERSATION_STATE', [id, c.state, wanted]);
  };
  const insert = (
    input: Parameters<HandoffStore['enqueueHandoff']>[0],
    extra: { status: HandoffStatus; agentId: string | null; at: string; previousId?: string | null; queuedAt?: string },
  ): Handoff => {
    const id = randomUUID();
    q.insertHandoff.run({
      id, conversationId: input.conversationId, kind: input.kind, trigger: input.trigger, topic: input.topic, group: input.group,
      priority: input.priority, targetAgentId: input.targetAgentId ?? null, status: extra.status, agentId: extra.agentId, now: extra.queuedAt ?? extra.at,
      claimedAt: extra.status === 'claimed' ? extra.at : null, callbackText: input.callback?.text ?? null,
      callbackContactTime: input.callback?.contactTime ?? null, previousId: extra.previousId ?? null,
    });
    return mustHandoff(id);
  };

  const enqueue = db.transaction((input: Parameters<HandoffStore['enqueueHandoff']>[0]) => {
    const at = now();
    if (q.convToQueued.run({ id: input.conversationId, now: at }).changes === 0) refuse(input.conversationId, 'only a conversation the bot holds can join the queue');
    const h = insert(input, { status: 'queued', agentId: null, at });
    return { conversation: mustConv(input.conversationId), handoff: h };
  });
  const pull = db.transaction((input: Parameters<HandoffStore['pullConversation']>[0]) => {
    const at = now();
    if (q.convBotToAgent.run({ id: input.conversationId, now: at }).changes === 0) refuse(input.conversationId, 'claim it from the queue instead');
    const h = insert(input, { status: 'claimed', agentId: input.agentId, at });
    return { conversation: mustConv(input.conversationId), handoff: h };
  });
  const claim = db.transaction((handoffId: string, agentId: string) => {
    const at = now();
    if (q.claim.run({ id: handoffId, agentId, now: at }).changes === 0) {
      const h = mustHandoff(handoffId);
      if (h.status === 'claimed') throw new KefuError('KEFU_ALREADY_CLAIMED', [h.conversationId, h.agentId ?? 'another agent']);
      throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, 'no longer waiting', 'the customer left or it was handed on']);
    }
    const h = mustHandoff(handoffId);
    // The queue entry and the conversation move together, or neither does.
    if (q.convQueuedToAgent.run({ id: h.conversationId, now: at }).changes === 0) refuse(h.conversationId, 'it is not waiting in the queue');
    return { conversation: mustConv(h.conversationId), handoff: h };
  });
  const transfer = db.transaction((handoffId: string, input: { fromAgentId: string | null; group: string; targetAgentId: string | null }) => {
    const at = now();
    if (q.endClaimedAsTransfer.run({ id: handoffId, from: input.fromAgentId, now: at }).changes === 0) {
      const h = mustHandoff(handoffId);
      throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'only the agent holding it can transfer it']);
    }
    const old = mustHandoff(handoffId);
    if (q.convAgentToQueued.run({ id: old.conversationId, now: at }).changes === 0) refuse(old.conversationId, 'an agent must hold it to transfer it');
    const next = insert(
      { conversationId: old.conversationId, kind: old.kind, trigger: 'transfer', topic: old.topic, group: input.group, priority: old.priority, targetAgentId: input.targetAgentId, callback: old.callback },
      { status: 'queued', agentId: null, at, previousId: old.id },
    );
    return { conversation: mustConv(old.conversationId), handoff: next };
  });
  const release = db.transaction((handoffId: string, input: { agentId: string }) => {
    const at = now();
    if (q.endClaimedAsReleased.run({ id: handoffId, agentId: input.agentId, now: at }).changes === 0) {
      const h = mustHandoff(handoffId);
      throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'only an episode the agent still holds can be released']);
    }
    const old = mustHandoff(handoffId);
    if (q.convAgentToQueued.run({ id: old.conversationId, now: at }).changes === 0) refuse(old.conversationId, 'an agent must hold it to release it');
    // The customer keeps the time they have waited: the next episode is queued as of the released one.
    const next = insert(
      { conversationId: old.conversationId, kind: old.kind, trigger: 'release', topic: old.topic, group: old.group, priority: old.priority, targetAgentId: null, callback: old.callback },
      { status: 'queued', agentId: null, at, previousId: old.id, queuedAt: old.queuedAt },
    );
    return { conversation: mustConv(old.conversationId), handoff: next };
  });
  const end = db.transaction((handoffId: string, input: Parameters<HandoffStore['endHandoff']>[1]) => {
    const at = now();
    const res = q.end.run({ id: handoffId, now: at, reason: input.reason, disposition: input.disposition ?? null, endedBy: input.endedBy });
    if (res.changes === 0) {
      const h = mustHandoff(handoffId);
      throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'this handoff is already over']);
    }
    const h = mustHandoff(handoffId);
    if (input.conversationState) q.convMove.run({ id: h.conversationId, state: input.conversationState, now: at });
    return { conversation: mustConv(h.conversationId), handoff: h };
  });
  const dropAgentSessions = db.transaction((agentId: string) => {
    const hashes = (q.agentSessions.all(agentId) as { token_hash: string }[]).map((r) => r.token_hash);
    q.deleteAgentSessions.run(agentId);
    return hashes;
  });

  const mustAgent = (id: string): Agent => {
    const row = q.getAgent.get(id) as AgentRow | undefined;
    if (!row) throw new KefuError('KEFU_AGENT_NOT_FOUND', [id]);
    return toAgent(row);
  };

  return {
    async enqueueHandoff(input) {
      return enqueue(input);
    },
    async pullConversation(input) {
      return pull(input);
    },
    async claimHandoff(handoffId, agentId) {
      return claim(handoffId, agentId);
    },
    async transferHandoff(handoffId, input) {
      return transfer(handoffId, input);
    },
    async releaseHandoff(handoffId, input) {
      return release(handoffId, input);
    },
    async endHandoff(handoffId, input) {
      return end(handoffId, input);
    },
    async markFirstReply(handoffId) {
      q.firstReply.run({ id: handoffId, now: now() });
      return mustHandoff(handoffId);
    },
    async setHandoffCallback(handoffId, callback) {
      if (q.callback.run({ id: handoffId, text: callback.text, contactTime: callback.contactTime }).changes === 0) {
        const h = mustHandoff(handoffId);
        throw new KefuError('KEFU_CONVERSATION_STATE', [h.conversationId, h.status, 'only a waiting customer can leave a message for a call back']);
      }
      return mustHandoff(handoffId);
    },
    async getHandoff(id) {
      return handoff(id);
    },
    async getOpenHandoff(conversationId) {
      const row = q.openHandoff.get(conversationId) as HandoffRow | undefined;
      return row ? toHandoff(row) : null;
    },
    async listHandoffs(conversationId) {
      return (q.listHandoffs.all(conversationId) as HandoffRow[]).map(toHandoff);
    },
    async listQueue(filter = {}) {
      const rows = filter.groups === undefined
        ? q.queueAll.all()
        : q.queueFor.all({ groups: JSON.stringify(filter.groups), agentId: filter.agentId ?? null });
      return (rows as HandoffRow[]).map(toHandoff);
    },
    async listClaimed(agentId) {
      return (q.claimed.all(agentId) as HandoffRow[]).map(toHandoff);
    },
    async handoffStats(group, { since, limit }) {
      const r = q.stats.get({ group, since, limit }) as { samples: number; wait: number | null; handling: number | null };
      return { samples: r.samples, avgWaitSeconds: r.wait, avgHandlingSeconds: r.handling };
    },
    async listConversationsByState(state: ConversationState, options = {}) {
      const params = { state, after: options.updatedAfter ?? '', limit: Math.min(options.limit ?? 100, 1000) };
      const rows = (options.groups ? q.byStateIn.all({ ...params, groups: JSON.stringify(options.groups) }) : q.byState.all(params)) as ConversationRow[];
      return rows.map(deps.toConversation);
    },
    async latestMessages(conversationId, limit) {
      return (q.latest.all(conversationId, Math.max(0, Math.min(limit, 1000))) as MessageRow[]).map(deps.toMessage);
    },
    // In-process, a statement per conversation costs no round trip: one call is what saves the store thread's hops.
    async latestMessagesOf(conversationIds, limit) {
      const out: Record<string, Message[]> = {};
      for (const id of new Set(conversationIds)) {
        const rows = q.latest.all(id, Math.max(0, Math.min(limit, 1000))) as MessageRow[];
        if (rows.length > 0) out[id] = rows.map(deps.toMessage);
      }
      return out;
    },
    async getConversations(ids) {
      return [...new Set(ids)].map(conv).filter((c): c is Conversation => c !== null);
    },
    async addNote({ conversationId, agentId, text }) {
      mustConv(conversationId);
      const id = randomUUID();
      q.insertNote.run({ id, conversationId, agentId, text, now: now() });
      return toNote(q.getNote.get(id) as NoteRow);
    },
    async listNotes(conversationId) {
      return (q.notes.all(conversationId) as NoteRow[]).map(toNote);
    },
    async getCustomerProfile(channel, customerId) {
      const row = q.getProfile.get(channel, customerId) as ProfileRow | undefined;
      return row ? toProfile(row) : null;
    },
    async upsertCustomerProfile(p) {
      q.upsertProfile.run({
        channel: p.channel, customerId: p.customerId, verified: p.verified ? 1 : 0, verifiedAt: p.verifiedAt, displayName: p.displayName,
        data: JSON.stringify(p.data), now: now(),
      });
      return toProfile(q.getProfile.get(p.channel, p.customerId) as ProfileRow);
    },

    async createAgent(input) {
      const id = randomUUID();
      try {
        q.insertAgent.run({ id, username: input.username, displayName: input.displayName, role: input.role, groups: JSON.stringify(input.groups), passwordHash: input.passwordHash, now: now() });
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new KefuError('KEFU_AGENT_EXISTS', [input.username], { cause: e });
        throw e;
      }
      return mustAgent(id);
    },
    async getAgent(id) {
      const row = q.getAgent.get(id) as AgentRow | undefined;
      return row ? toAgent(row) : null;
    },
    async findAgentByUsername(username) {
      const row = q.agentByName.get(username) as AgentRow | undefined;
      return row ? toAgent(row) : null;
    },
    async getPasswordHash(agentId) {
      const row = q.getAgent.get(agentId) as AgentRow | undefined;
      return row ? row.password_hash : null;
    },
    async listAgents() {
      return (q.agents.all() as AgentRow[]).map(toAgent);
    },
    async updateAgent(id, patch) {
      const sets = ['updated_at = @now'];
      const params: Record<string, unknown> = { id, now: now() };
      if (patch.displayName !== undefined) (sets.push('display_name = @displayName'), (params.displayName = patch.displayName));
      if (patch.role !== undefined) (sets.push('role = @role'), (params.role = patch.role));
      if (patch.groups !== undefined) (sets.push('groups = @groups'), (params.groups = JSON.stringify(patch.groups)));
      if (patch.disabled !== undefined) (sets.push('disabled = @disabled'), (params.disabled = patch.disabled ? 1 : 0));
      if (patch.lastLoginAt !== undefined) (sets.push('last_login_at = @lastLoginAt'), (params.lastLoginAt = patch.lastLoginAt));
      if (patch.passwordHash !== undefined) (sets.push('password_hash = @passwordHash'), (params.passwordHash = patch.passwordHash));
      if (db.prepare(`UPDATE agents SET ${sets.join(', ')} WHERE id = @id`).run(params).changes === 0) throw new KefuError('KEFU_AGENT_NOT_FOUND', [id]);
      return mustAgent(id);
    },
    async createSession(s) {
      q.insertSession.run(s);
      return toSession(q.getSession.get(s.tokenHash) as SessionRow);
    },
    async getSession(tokenHash) {
      const row = q.getSession.get(tokenHash) as SessionRow | undefined;
      return row ? toSession(row) : null;
    },
    async deleteSession(tokenHash) {
      return q.deleteSession.run(tokenHash).changes > 0;
    },
    async deleteAgentSessions(agentId) {
      return dropAgentSessions(agentId);
    },
    async deleteExpiredSessions(at) {
      return q.deleteExpired.run(at).changes;
    },
  };
}
