import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveThresholds, usableCores, DEFAULT_THRESHOLDS } from '../src/config.ts';
import { availableParallelism } from 'node:os';

describe('config', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'kefu-config-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('builds a frozen config with defaults and absolute paths', () => {
    const c = loadConfig({ cwd: '/srv/kefu' });
    expect(c.packDir).toBe('/srv/kefu/intents');
    expect(c.brand.bot).toBe('小福');
    expect(Object.isFrozen(c) && Object.isFrozen(c.brand)).toBe(true);
  });

  it('takes a config file, then KEFU_* environment variables', () => {
    const d = tmp();
    writeFileSync(join(d, 'kefu.json'), JSON.stringify({ locale: 'en', brand: { bot: 'Ava' }, router: { maxFallbacks: 3 } }));
    const c = loadConfig({ cwd: d, env: { KEFU_CONFIG: 'kefu.json', KEFU_LOCALE: 'zh-CN' } });
    expect(c.locale).toBe('zh-CN');
    expect(c.brand.bot).toBe('Ava');
    expect(c.brand.bank).toBe('凱福銀行');
    expect(c.router.maxFallbacks).toBe(3);
  });

  it('refuses bad values and unknown keys with a coded error naming them', () => {
    expect(() => loadConfig({ overrides: { locale: 'fr' } })).toThrowError(expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/locale/) }));
    expect(() => loadConfig({ overrides: { colour: 'red' } })).toThrowError(expect.objectContaining({ code: 'KEFU_CONFIG_INVALID' }));
    const d = tmp();
    writeFileSync(join(d, 'bad.json'), '{ not json');
    expect(() => loadConfig({ cwd: d, file: 'bad.json' })).toThrowError(expect.objectContaining({ code: 'KEFU_CONFIG_INVALID' }));
    // JSON, but not an object: named, also with a variable to apply on top of it.
    for (const body of ['null', '[1]', '"x"']) {
      writeFileSync(join(d, 'odd.json'), body);
      expect(() => loadConfig({ cwd: d, file: 'odd.json', env: { KEFU_LOCALE: 'en' } })).toThrowError(
        expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/odd\.json: must hold one JSON object/) }),
      );
    }
    // A yes/no variable given something else is named, not taken as "no".
    expect(() => loadConfig({ env: { KEFU_DB_THREAD: 'yes' } })).toThrowError(expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/database\.thread/) }));
    expect(loadConfig({ env: { KEFU_DB_THREAD: 'FALSE' } }).database.thread).toBe(false);
    expect(loadConfig({ env: { KEFU_DB_THREAD: '1' } }).database.thread).toBe(true);
    expect(loadConfig({ env: { KEFU_DRAIN_SECONDS: '15' } }).server.drainSeconds).toBe(15);
    expect(loadConfig({ env: {} }).database.synchronous).toBe('full');
    expect(loadConfig({ env: { KEFU_DB_SYNCHRONOUS: 'FULL' } }).database.synchronous).toBe('full');
    expect(() => loadConfig({ env: { KEFU_DB_SYNCHRONOUS: 'extra' } })).toThrowError(expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/database\.synchronous/) }));
  });

  it('takes the server secret, CORS origins and proxy trust from the environment, and merges overrides deeply', () => {
    const d = tmp();
    writeFileSync(join(d, 'kefu.json'), JSON.stringify({ server: { host: '0.0.0.0', port: 8080 } }));
    const c = loadConfig({
      cwd: d,
      env: { KEFU_CONFIG: 'kefu.json', KEFU_SECRET: 's'.repeat(32), KEFU_CORS_ORIGINS: 'https://a.example, https://b.example', KEFU_TRUST_PROXY: 'true' },
      overrides: { server: { port: 9090 } },
    });
    expect(c.server).toMatchObject({ host: '0.0.0.0', port: 9090, secret: 's'.repeat(32), corsOrigins: ['https://a.example', 'https://b.example'], trustProxy: true });
    expect(loadConfig().server.secret).toBeUndefined();
    // A list of proxies (addresses, ranges, proxy-addr's names) instead of trusting every hop; a bad entry is named.
    expect(loadConfig({ env: { KEFU_TRUST_PROXY: '10.0.0.0/8, loopback' } }).server.trustProxy).toEqual(['10.0.0.0/8', 'loopback']);
    expect(loadConfig({ env: { KEFU_TRUST_PROXY: 'false' } }).server.trustProxy).toBe(false);
    expect(() => loadConfig({ env: { KEFU_TRUST_PROXY: '10.0.0.0/8,not-a-proxy' } })).toThrowError(
      expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/server\.trustProxy.*not-a-proxy/) }),
    );
    expect(() => loadConfig({ env: { KEFU_SECRET: 'short' } })).toThrowError(expect.objectContaining({ message: expect.stringMatching(/server\.secret/) }));
  });

  it("takes the bank site's identity secret, which must be long and must not be the server's own", () => {
    expect(loadConfig({ env: { KEFU_IDENTITY_SECRET: 'i'.repeat(32) } }).identity).toEqual({ secret: 'i'.repeat(32), audience: 'kefu', maxAgeMinutes: 15 });
    expect(loadConfig().identity.secret).toBeUndefined();
    expect(() => loadConfig({ env: { KEFU_IDENTITY_SECRET: 'short' } })).toThrowError(expect.objectContaining({ message: expect.stringMatching(/identity\.secret/) }));
    expect(() => loadConfig({ env: { KEFU_IDENTITY_SECRET: 's'.repeat(32), KEFU_SECRET: 's'.repeat(32) } })).toThrowError(
      expect.objectContaining({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/identity\.secret: must differ from server\.secret/) }),
    );
  });

  it('uses tuned thresholds from the thresholds file, and config over both', () => {
    const d = tmp();
    writeFileSync(join(d, 't.json'), JSON.stringify({ pack: 'demo', packHash: 'abc', thresholds: { faq: 0.7, nlu: 0.4, clarifyMargin: 0.1, clarifyMin: 0.15 } }));
    const c = loadConfig({ cwd: d, overrides: { thresholdsFile: 't.json', router: { thresholds: { nlu: 0.6 } } } });
    const r = resolveThresholds(c, { name: 'demo', hash: 'abc' });
    expect(r.thresholds).toEqual({ faq: 0.7, nlu: 0.6, clarifyMargin: 0.1, clarifyMin: 0.15 });
    expect(r.source).toBe('tuned + config');
    expect(resolveThresholds(c, { name: 'demo', hash: 'other' }).source).toMatch(/older version/);
    expect(resolveThresholds(c, { name: 'mini', hash: 'abc' }).thresholds.faq).toBe(DEFAULT_THRESHOLDS.faq);
    expect(resolveThresholds(loadConfig({ cwd: d }), { name: 'demo', hash: 'abc' })).toEqual({ thresholds: DEFAULT_THRESHOLDS, source: 'defaults' });
  });
});

describe('usable cores (container CPU quota)', () => {
  const files = (map: Record<string, string>) => (path: string): string => {
    const v = map[path];
    if (v === undefined) throw Object.assign(new Error(`ENOENT ${path}`), { code: 'ENOENT' });
    return v;
  };
  const machine = availableParallelism();
  it('follows a cgroup v2 quota, rounding down, never below one', () => {
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '100000 100000\n' }))).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '150000 100000' }))).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }))).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': `${machine * 400000} 100000` }))).toBe(machine);
  });
  it('uses cgroup v1 when v2 is absent, and the machine when neither limits', () => {
    expect(usableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(machine);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }))).toBe(machine);
    expect(usableCores(files({}))).toBe(machine);
  });
});
