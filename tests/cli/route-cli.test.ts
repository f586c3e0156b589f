import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MINI = join(ROOT, 'tests/fixtures/packs/mini');

function run(script: string, args: string[], input: string, env: Record<string, string>) {
  const r = spawnSync(TSX, [join(ROOT, 'scripts', script), ...args], { input, encoding: 'utf8', env: { ...process.env, ...env }, cwd: ROOT, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run route (CLI contract)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-cli-'));
    env = { KEFU_MODEL_DIR: join(dir, 'models'), KEFU_LOG_LEVEL: 'info' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains when no model exists, logs only on stderr, and writes one JSON line per utterance', () => {
    const input = ['信用卡遺失了要怎麼掛失', '我要找真人', '明天台北會下雨嗎', '', '我的存款還剩多少'].join('\n');
    const r = run('route.ts', ['--pack', MINI], input, env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/model trained/);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['text', 'outcome', 'topic', 'brain', 'confidence', 'candidates']);
      expect(['answer', 'clarify', 'fallback', 'handoff']).toContain(l.outcome);
      expect(l.confidence).toBeGreaterThanOrEqual(0);
      expect(l.confidence).toBeLessThanOrEqual(1);
    }
    expect(lines[0]).toMatchObject({ text: '信用卡遺失了要怎麼掛失', outcome: 'answer', topic: 'card.lost' });
    expect(lines[1]).toMatchObject({ outcome: 'handoff', topic: 'human.agent' });
    expect(lines[3]).toMatchObject({ outcome: 'answer', topic: 'account.balance' });
  });

  it('reuses the trained model on the next run', () => {
    const r = run('route.ts', ['--pack', MINI], '掛失信用卡\n', env);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/training model/);
    expect(JSON.parse(r.stdout)).toMatchObject({ topic: 'card.lost' });
  });

  it('prints usage for --help and refuses unknown options with exit code 2', () => {
    const help = run('route.ts', ['--help'], '', env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: npm run route/);
    const bad = run('route.ts', ['--frobnicate'], '', env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/KEFU_CLI_USAGE/);
  });

  it('names the file and line of a broken pack', () => {
    const pack = join(dir, 'broken');
    cpSync(MINI, pack, { recursive: true });
    writeFileSync(join(pack, 'bank/card.yaml'), 'faqs:\n  - id: card.lost\n    title: { zh-TW: x }\n    questions: {}\n');
    const r = run('route.ts', ['--pack', pack], 'hi\n', env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/KEFU_PACK_INVALID/);
    expect(r.stderr).toMatch(/bank\/card\.yaml:2 \(card\.lost\)/);
    expect(r.stdout).toBe('');
  });

  it('train and evaluate answer --help', () => {
    for (const s of ['train.ts', 'evaluate.ts', 'chat.ts']) {
      const r = run(s, ['--help'], '', env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: npm run/);
    }
  });
});
