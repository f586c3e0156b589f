import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPack } from '../../src/pack/pack-loader.ts';
import type { KefuError } from '../../src/errors.ts';

const MINI = join(import.meta.dirname, '../fixtures/packs/mini');

function loadError(dir: string): KefuError {
  try {
    loadPack(dir);
  } catch (e) {
    return e as KefuError;
  }
  throw new Error('expected loadPack to fail');
}

describe('loadPack', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kefu-pack-'));
    cpSync(MINI, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads FAQs, intents and out-of-scope examples with their source lines', () => {
    const pack = loadPack(dir);
    expect(pack.name).toBe('mini');
    expect(pack.topics.map((t) => t.id)).toEqual(['card.lost', 'card.pay', 'account.balance', 'human.agent']);
    const balance = pack.topics.find((t) => t.id === 'account.balance');
    expect(balance).toMatchObject({ kind: 'intent', verify: true, handoff: false, domain: 'bank', source: { file: 'bank/card.yaml', line: 16 } });
    expect(pack.topics.find((t) => t.id === 'human.agent')?.handoff).toBe(true);
    expect(pack.outOfScope['zh-TW']).toHaveLength(5);
    expect(pack.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes the hash when a file changes', () => {
    const before = loadPack(dir).hash;
    writeFileSync(join(dir, 'bank/card.yaml'), readFileSync(join(dir, 'bank/card.yaml'), 'utf8').replace('辦理掛失', '辦理掛失手續'));
    expect(loadPack(dir).hash).not.toBe(before);
  });

  it('names file, line and entry for a schema error', () => {
    const f = join(dir, 'bank/card.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('questions:\n      zh-TW: [信用卡費有哪些繳款方式', 'questionz:\n      zh-TW: [信用卡費有哪些繳款方式'));
    const e = loadError(dir);
    expect(e.code).toBe('KEFU_PACK_INVALID');
    expect(e.details.join('\n')).toMatch(/bank\/card\.yaml:\d+ \(card\.pay\)/);
    expect(e.details.join('\n')).toMatch(/questionz/);
  });

  it('names file and line for broken YAML', () => {
    writeFileSync(join(dir, 'bank/card.yaml'), 'faqs:\n  - id: card.lost\n    title: [unclosed\n');
    const e = loadError(dir);
    expect(e.code).toBe('KEFU_PACK_INVALID');
    expect(e.details[0]).toMatch(/^bank\/card\.yaml:\d+: /);
  });

  it('refuses duplicate ids across files, pointing at both places', () => {
    writeFileSync(join(dir, 'common/dup.yaml'), readFileSync(join(dir, 'bank/card.yaml'), 'utf8'));
    const e = loadError(dir);
    expect(e.details.join('\n')).toMatch(/common\/dup\.yaml:2 \(card\.lost\): id "card\.lost" is already defined at bank\/card\.yaml:2/);
  });

  it('refuses a related topic that does not exist', () => {
    const f = join(dir, 'bank/card.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('related: [card.lost]', 'related: [card.stolen]'));
    expect(loadError(dir).details.join('\n')).toMatch(/bank\/card\.yaml:8 \(card\.pay\): related topic "card\.stolen" does not exist/);
  });

  it('refuses a malformed topic id, naming the line', () => {
    const f = join(dir, 'bank/card.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('id: card.lost', 'id: Card Lost'));
    expect(loadError(dir).details.join('\n')).toMatch(/bank\/card\.yaml:2 \(Card Lost\): faqs\.0\.id: topic id must look like/);
  });

  it('refuses a topic missing a locale the pack declares', () => {
    writeFileSync(join(dir, 'pack.yaml'), 'name: mini\nlocales: [zh-TW, en]\ndomains: [bank, common]\n');
    expect(loadError(dir).details.join('\n')).toMatch(/\(card\.lost\): no questions for locale en/);
  });

  it('reports a missing pack and a missing domain folder', () => {
    expect(loadError(join(dir, 'nowhere')).code).toBe('KEFU_PACK_NOT_FOUND');
    writeFileSync(join(dir, 'pack.yaml'), 'name: mini\nlocales: [zh-TW]\ndomains: [bank, life]\n');
    expect(loadError(dir).details.join('\n')).toMatch(/domain "life" has no folder/);
  });
});
