import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import type { Locale } from '../domain/types.ts';
import { KefuError } from '../errors.ts';
import { domainFileSchema, packManifestSchema, type PackManifest } from './pack-schema.ts';

/** One answerable topic of a pack, FAQ or intent, with where it was written. */
export interface Topic {
  id: string;
  kind: 'faq' | 'intent';
  domain: string;
  title: Partial<Record<Locale, string>>;
  answer: Partial<Record<Locale, string>>;
  /** FAQ questions or intent utterances, per locale. */
  phrases: Partial<Record<Locale, string[]>>;
  tags: string[];
  related: string[];
  entities: string[];
  verify: boolean;
  handoff: boolean;
  source: { file: string; line: number };
}

/** A validated knowledge pack, ready to train on. */
export interface Pack {
  name: string;
  description: string;
  locales: Locale[];
  domains: string[];
  topics: Topic[];
  outOfScope: Partial<Record<Locale, string[]>>;
  /** sha256 over every file the pack was read from, so a model knows which pack it was trained on. */
  hash: string;
}

function lineOf(lc: LineCounter, offset: number | undefined): number {
  return offset === undefined ? 1 : lc.linePos(offset).line;
}

function parseYamlFile(file: string, root: string): { data: unknown; locate: (path: PropertyKey[]) => number; text: string } {
  const text = readFileSync(file, 'utf8');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const rel = relative(root, file) || file;
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => `${rel}:${lineOf(lc, e.pos[0])}: ${e.message.split('\n')[0]}`);
    throw new KefuError('KEFU_PACK_INVALID', [details[0] ?? rel], { details });
  }
  const locate = (path: PropertyKey[]): number => {
    // Walk back up the path until a node with a position is found, so a missing key points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) return lineOf(lc, node.range[0]);
    }
    return 1;
  };
  return { data: doc.toJS(), locate, text };
}

function describeIssues(rel: string, issues: z.core.$ZodIssue[], data: unknown, locate: (p: PropertyKey[]) => number): string[] {
  return issues.map((issue) => {
    const path = issue.path as PropertyKey[];
    const line = locate(path);
    // Name the entry by its id when the issue is inside a list of topics, because that is what an editor searches for.
    let entry = '';
    if (path.length >= 2 && typeof path[1] === 'number' && data && typeof data === 'object') {
      const list = (data as Record<string, unknown>)[String(path[0])];
      const item = Array.isArray(list) ? (list[path[1]] as { id?: unknown } | undefined) : undefined;
      if (item && typeof item.id === 'string') entry = ` (${item.id})`;
    }
    return `${rel}:${line}${entry}: ${path.map(String).join('.') || '<root>'}: ${issue.message}`;
  });
}

function invalid(details: string[]): never {
  throw new KefuError('KEFU_PACK_INVALID', [details[0] ?? 'unknown problem'], { details });
}

/** Reads and validates the pack whose manifest is `<dir>/pack.yaml`; throws KEFU_PACK_INVALID naming file, line and entry. */
export function loadPack(dir: string): Pack {
  const manifestFile = join(dir, 'pack.yaml');
  if (!existsSync(manifestFile)) throw new KefuError('KEFU_PACK_NOT_FOUND', [manifestFile]);
  const hash = createHash('sha256');
  const m = parseYamlFile(manifestFile, dir);
  hash.update(m.text);
  const mres = packManifestSchema.safeParse(m.data);
  if (!mres.success) invalid(describeIssues('pack.yaml', mres.error.issues, m.data, m.locate));
  const manifest: PackManifest = mres.data;

  const topics: Topic[] = [];
  const outOfScope: Partial<Record<Locale, string[]>> = {};
  const problems: string[] = [];
  const seen = new Map<string, string>();

  for (const domain of manifest.domains) {
    const ddir = join(dir, domain);
    if (!existsSync(ddir) || !statSync(ddir).isDirectory()) {
      problems.push(`pack.yaml: domain "${domain}" has no folder ${relative(process.cwd(), ddir)}`);
      continue;
    }
    const files = readdirSync(ddir).filter((f) => /\.ya?ml$/.test(f)).sort();
    for (const f of files) {
      const file = join(ddir, f);
      const rel = relative(dir, file);
      let parsed: ReturnType<typeof parseYamlFile>;
      try {
        parsed = parseYamlFile(file, dir);
      } catch (e) {
        if (e instanceof KefuError) {
          problems.push(...e.details);
          continue;
        }
        throw e;
      }
      hash.update(rel).update(parsed.text);
      const res = domainFileSchema.safeParse(parsed.data ?? {});
      if (!res.success) {
        problems.push(...describeIssues(rel, res.error.issues, parsed.data, parsed.locate));
        continue;
      }
      const entries = [
        ...res.data.faqs.map((e, i) => ({ kind: 'faq' as const, e, phrases: e.questions, path: ['faqs', i], entities: [], verify: false, handoff: false })),
        ...res.data.intents.map((e, i) => ({ kind: 'intent' as const, e, phrases: e.utterances, path: ['intents', i], entities: e.entities, verify: e.verify, handoff: e.handoff })),
      ];
      for (const { kind, e, phrases, path, entities, verify, handoff } of entries) {
        const line = parsed.locate(path);
        const where = `${rel}:${line} (${e.id})`;
        const dup = seen.get(e.id);
        if (dup) problems.push(`${where}: id "${e.id}" is already defined at ${dup}`);
        seen.set(e.id, `${rel}:${line}`);
        for (const loc of manifest.locales) {
          if (!phrases[loc]) problems.push(`${where}: no ${kind === 'faq' ? 'questions' : 'utterances'} for locale ${loc}`);
          if (!e.answer[loc]) problems.push(`${where}: no answer for locale ${loc}`);
          if (!e.title[loc]) problems.push(`${where}: no title for locale ${loc}`);
        }
        topics.push({
          id: e.id, kind, domain, title: e.title, answer: e.answer, phrases, tags: e.tags, related: e.related,
          entities, verify, handoff, source: { file: rel, line },
        });
      }
      for (const [loc, list] of Object.entries(res.data.out_of_scope ?? {}) as [Locale, string[]][]) {
        (outOfScope[loc] ??= []).push(...list);
      }
    }
  }
  for (const t of topics) {
    for (const r of t.related) {
      if (!seen.has(r)) problems.push(`${t.source.file}:${t.source.line} (${t.id}): related topic "${r}" does not exist`);
    }
  }
  if (topics.length === 0 && problems.length === 0) problems.push('pack.yaml: the pack has no topics');
  if (problems.length > 0) invalid(problems);
  return {
    name: manifest.name,
    description: manifest.description,
    locales: manifest.locales,
    domains: manifest.domains,
    topics,
    outOfScope,
    hash: hash.digest('hex'),
  };
}
