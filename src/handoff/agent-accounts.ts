import { createHash, randomBytes } from 'node:crypto';
import type { Agent, AgentRole, AgentSession } from '../domain/agent.ts';
import { AGENT_ROLES, GROUP_PATTERN, USERNAME_PATTERN } from '../domain/agent.ts';
import { KefuError } from '../errors.ts';
import type { AgentStore } from '../store/store.ts';
import { hashPassword, passwordWeakness, verifyNothing, verifyPassword } from './agent-password.ts';
import { createListeners } from '../listeners.ts';

// A session token is `ks1.` + 32 random bytes (base64url). Only its SHA-256 is stored: the token is as random as a
// key, so a fast hash is enough, and a leaked database holds nothing that signs anyone in.
const TOKEN_PREFIX = 'ks1.';
const TOKEN_RE = /^ks1\.[A-Za-z0-9_-]{43}$/;

/** True when `token` has the shape of a console session token (says nothing about whether it is valid). */
export const isSessionToken = (token: string | null | undefined): token is string => typeof token === 'string' && TOKEN_RE.test(token);

/** The stored form of a session token. */
export const sessionTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface NewAccount {
  username: string;
  displayName: string;
  role: AgentRole;
  groups: string[];
  password: string;
}

export interface SignedIn {
  agent: Agent;
  session: AgentSession;
}

export interface AgentAccounts {
  /** Creates an account; refuses a weak password (KEFU_PASSWORD_WEAK) or a taken username (KEFU_AGENT_EXISTS). */
  create(input: NewAccount): Promise<Agent>;
  get(username: string): Promise<Agent>;
  list(): Promise<Agent[]>;
  /** Changes name, role or groups. */
  update(username: string, patch: Partial<Pick<NewAccount, 'displayName' | 'role' | 'groups'>>): Promise<Agent>;
  /** Sets a new password and signs the account out everywhere. */
  setPassword(username: string, password: string): Promise<Agent>;
  /** Disabling signs the account out everywhere and refuses its sign-ins until enabled again. */
  setDisabled(username: string, disabled: boolean): Promise<Agent>;
  /** Checks the password and opens a session. Throws KEFU_LOGIN_FAILED, saying no more than that. */
  login(username: string, password: string): Promise<SignedIn & { token: string }>;
  /** Ends the session of `token`, if any. */
  logout(token: string): Promise<void>;
  /** The account and session a token stands for; null when it is malformed, unknown, expired or the account disabled. */
  authenticate(token: string | null | undefined): Promise<SignedIn | null>;
  /** The same check by the stored hash (a socket keeps only that). */
  authenticateHash(tokenHash: string): Promise<SignedIn | null>;
  /** Called with each session's token hash, and whose it was, when it ends (logout, password change, account disabled). */
  onSessionEnded(listener: (tokenHash: string, agentId: string) => void): () => void;
}

export interface AgentAccountsOptions {
  store: AgentStore;
  sessionTtlMs: number;
  now?: () => Date;
}

const invalid = (detail: string): KefuError => new KefuError('KEFU_VALIDATION', [detail], { details: [detail] });

function checkAccountFields(input: Partial<Pick<NewAccount, 'username' | 'displayName' | 'role' | 'groups'>>): void {
  if (input.username !== undefined && !USERNAME_PATTERN.test(input.username)) {
    throw invalid('username: 2–32 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (input.displayName !== undefined && (input.displayName.trim() === '' || [...input.displayName].length > 40)) throw invalid('displayName: 1–40 characters');
  if (input.role !== undefined && !AGENT_ROLES.includes(input.role)) throw invalid(`role: one of ${AGENT_ROLES.join(', ')}`);
  for (const g of input.groups ?? []) if (!GROUP_PATTERN.test(g)) throw invalid(`groups: "${g}" is not a group name (lower-case letters, digits, _ or -)`);
}

/** Console accounts: scrypt-hashed passwords, roles and groups, and sessions by random token. */
export function createAgentAccounts(opts: AgentAccountsOptions): AgentAccounts {
  const { store } = opts;
  const now = opts.now ?? (() => new Date());
  const sessionsEnded = createListeners<[tokenHash: string, agentId: string]>();
  const ended = (agentId: string, hashes: string[]): void => {
    for (const h of hashes) sessionsEnded.emit(h, agentId);
  };
  const mustFind = async (username: string): Promise<Agent> => {
    const a = await store.findAgentByUsername(username.trim().toLowerCase());
    if (!a) throw new KefuError('KEFU_AGENT_NOT_FOUND', [username]);
    return a;
  };
  const checkPassword = (password: string, account: { username: string; displayName?: string }): void => {
    const weakness = passwordWeakness(password, account);
    if (weakness) throw new KefuError('KEFU_PASSWORD_WEAK', [weakness]);
  };
  const byHash = async (tokenHash: string): Promise<SignedIn | null> => {
    const session = await store.getSession(tokenHash);
    if (!session) return null;
    if (Date.parse(session.expiresAt) <= now().getTime()) {
      await store.deleteSession(tokenHash);
      return null;
    }
    const agent = await store.getAgent(session.agentId);
    if (!agent || agent.disabled) return null;
    return { agent, session };
  };

  return {
    async create(input) {
      const username = input.username.trim().toLowerCase();
      const groups = [...new Set(input.groups.map((g) => g.trim()).filter(Boolean))];
      checkAccountFields({ ...input, username, groups });
      checkPassword(input.password, { username, displayName: input.displayName });
      if (await store.findAgentByUsername(username)) throw new KefuError('KEFU_AGENT_EXISTS', [username]);
      return store.createAgent({ username, displayName: input.displayName.trim(), role: input.role, groups, passwordHash: await hashPassword(input.password) });
    },
    get: mustFind,
    list: () => store.listAgents(),
    async update(username, patch) {
      const agent = await mustFind(username);
      const groups = patch.groups === undefined ? undefined : [...new Set(patch.groups.map((g) => g.trim()).filter(Boolean))];
      checkAccountFields({ ...patch, groups });
      return store.updateAgent(agent.id, { ...patch, displayName: patch.displayName?.trim(), groups });
    },
    async setPassword(username, password) {
      const agent = await mustFind(username);
      checkPassword(password, agent);
      const updated = await store.updateAgent(agent.id, { passwordHash: await hashPassword(password) });
      ended(agent.id, await store.deleteAgentSessions(agent.id));
      return updated;
    },
    async setDisabled(username, disabled) {
      const agent = await mustFind(username);
      const updated = await store.updateAgent(agent.id, { disabled });
      if (disabled) ended(agent.id, await store.deleteAgentSessions(agent.id));
      return updated;
    },
    async login(username, password) {
      const agent = await store.findAgentByUsername(username.trim().toLowerCase());
      const hash = agent ? await store.getPasswordHash(agent.id) : null;
      const ok = agent && hash ? await verifyPassword(password, hash) : await verifyNothing(password);
      if (!ok || !agent || agent.disabled) throw new KefuError('KEFU_LOGIN_FAILED');
      const at = now();
      await store.deleteExpiredSessions(at.toISOString());
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const session = await store.createSession({
        tokenHash: sessionTokenHash(token), agentId: agent.id, createdAt: at.toISOString(), expiresAt: new Date(at.getTime() + opts.sessionTtlMs).toISOString(),
      });
      const signedIn = await store.updateAgent(agent.id, { lastLoginAt: at.toISOString() });
      return { agent: signedIn, session, token };
    },
    async logout(token) {
      if (!isSessionToken(token)) return;
      const hash = sessionTokenHash(token);
      const session = await store.getSession(hash);
      if (session && (await store.deleteSession(hash))) ended(session.agentId, [hash]);
    },
    async authenticate(token) {
      return isSessionToken(token) ? byHash(sessionTokenHash(token)) : null;
    },
    authenticateHash: byHash,
    onSessionEnded: sessionsEnded.add,
  };
}
