import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createAgentAccounts, sessionTokenHash, type AgentAccounts } from '../../src/handoff/agent-accounts.ts';
import { hashPassword, passwordWeakness, verifyPassword } from '../../src/handoff/agent-password.ts';

const PASSWORD = 'Correct-Horse-42';

describe('passwords', () => {
  it('hashes with scrypt under a fresh salt and verifies in constant time', async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(PASSWORD, a)).toBe(true);
    expect(await verifyPassword('correct-horse-42', a)).toBe(false);
    expect(await verifyPassword(PASSWORD, 'md5$abc')).toBe(false);
    expect(await verifyPassword(PASSWORD, 'scrypt$x$8$1$abc$def')).toBe(false);
  });

  it('refuses weak passwords, saying why', () => {
    const who = { username: 'xiaomei', displayName: '小美' };
    expect(passwordWeakness('short1!', who)).toMatch(/10 characters/);
    expect(passwordWeakness('aaaaaaaaaaaa', who)).toMatch(/different characters/);
    expect(passwordWeakness('Password123', who)).toMatch(/well-known/);
    expect(passwordWeakness('xiaomei-2024!', who)).toMatch(/name/);
    expect(passwordWeakness('小美的密碼是這個啦1', who)).toMatch(/name/);
    expect(passwordWeakness('onlylettershere', who)).toMatch(/mix letters/);
    expect(passwordWeakness('1234567890123', who)).toMatch(/mix letters|sequences/);
    expect(passwordWeakness(PASSWORD, who)).toBeNull();
    expect(passwordWeakness('correct horse battery staple', who)).toBeNull();
  });
});

describe('agent accounts', () => {
  let store: Store;
  let clock: Date;
  let accounts: AgentAccounts;
  beforeEach(() => {
    store = openSqliteStore(':memory:');
    clock = new Date('2025-03-01T09:00:00.000Z');
    accounts = createAgentAccounts({ store, sessionTtlMs: 60 * 60 * 1000, now: () => clock });
  });
  afterEach(() => store.close());

  it('validates what it stores', async () => {
    await expect(accounts.create({ username: 'Bad Name', displayName: 'x', role: 'agent', groups: [], password: PASSWORD })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    await expect(accounts.create({ username: 'ok', displayName: 'x', role: 'boss' as 'agent', groups: [], password: PASSWORD })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    await expect(accounts.create({ username: 'ok', displayName: 'x', role: 'agent', groups: ['Bank!'], password: PASSWORD })).rejects.toMatchObject({ code: 'KEFU_VALIDATION' });
    await expect(accounts.create({ username: 'ok', displayName: 'x', role: 'agent', groups: [], password: 'weak' })).rejects.toMatchObject({ code: 'KEFU_PASSWORD_WEAK' });
    const a = await accounts.create({ username: ' MeiMei ', displayName: ' 小美 ', role: 'agent', groups: ['bank', 'bank', 'life'], password: PASSWORD });
    expect(a).toMatchObject({ username: 'meimei', displayName: '小美', groups: ['bank', 'life'] });
    await expect(accounts.create({ username: 'meimei', displayName: 'x', role: 'agent', groups: [], password: PASSWORD })).rejects.toMatchObject({ code: 'KEFU_AGENT_EXISTS' });
  });

  it('ends sessions when they expire, on a password change and when the account is disabled', async () => {
    const agent = await accounts.create({ username: 'a1', displayName: 'A', role: 'agent', groups: [], password: PASSWORD });
    const ended: string[] = [];
    accounts.onSessionEnded((h) => ended.push(h));
    const s1 = await accounts.login('a1', PASSWORD);
    expect(await accounts.authenticate(s1.token)).toMatchObject({ agent: { id: agent.id } });
    clock = new Date(clock.getTime() + 61 * 60 * 1000);
    expect(await accounts.authenticate(s1.token)).toBeNull();

    const s2 = await accounts.login('a1', PASSWORD);
    await accounts.setPassword('a1', 'Another-Horse-43');
    expect(await accounts.authenticate(s2.token)).toBeNull();
    expect(ended).toEqual([sessionTokenHash(s2.token)]);
    await expect(accounts.login('a1', PASSWORD)).rejects.toMatchObject({ code: 'KEFU_LOGIN_FAILED' });

    const s3 = await accounts.login('a1', 'Another-Horse-43');
    await accounts.setDisabled('a1', true);
    expect(await accounts.authenticate(s3.token)).toBeNull();
    await expect(accounts.login('a1', 'Another-Horse-43')).rejects.toMatchObject({ code: 'KEFU_LOGIN_FAILED' });
    await accounts.setDisabled('a1', false);
    expect((await accounts.login('a1', 'Another-Horse-43')).agent.disabled).toBe(false);
    expect(await accounts.authenticate('v1.not-a-session-token')).toBeNull();
    expect(await accounts.authenticate(null)).toBeNull();
  });
});
