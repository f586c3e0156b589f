import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { runCli } from '../src/cli/cli.ts';
import { AGENT_ROLES, type Agent, type AgentRole } from '../src/domain/agent.ts';
import { KefuError } from '../src/errors.ts';
import { createAgentAccounts } from '../src/handoff/agent-accounts.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';

const USAGE = `Usage: npm run user -- <command> [options]
Manages console accounts (agents, trainers, admins) in the configured database; works while the server runs.

Commands:
  add --username NAME --name DISPLAY --role ROLE [--groups G1,G2] [--password PW]
                         create an account; ROLE is agent, trainer or admin; groups are the queues an agent
                         serves besides "default" (bank, life …)
  list [--json]          show every account
  passwd USERNAME [--password PW]
                         set a new password (signs the account out everywhere)
  set USERNAME [--name DISPLAY] [--role ROLE] [--groups G1,G2]
                         change name, role or groups
  disable USERNAME       refuse sign-ins and end the account's sessions
  enable USERNAME        allow sign-ins again

Passwords: --password PW, else asked twice (hidden) on a terminal, else the first line of stdin. A password
needs 10+ characters, letters with digits or symbols (or a 16+ character passphrase), and not the name.
Prefer the prompt or stdin: --password stays in the shell history.

  --db FILE         SQLite database (default: the configured database: database.path, or PostgreSQL
                    when database.kind is postgres, as $KEFU_DB_KIND and $KEFU_DB_URL say)
  --json            machine-readable output (list)`;

const OPTIONS = {
  username: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, groups: { type: 'string' },
  password: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' },
} as const;

const usage = (message: string): KefuError => new KefuError('KEFU_CLI_USAGE', [`${message}\n\n${USAGE}`]);

function parseRole(value: string | boolean | undefined): AgentRole | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(AGENT_ROLES as readonly string[]).includes(value)) throw usage(`--role must be one of ${AGENT_ROLES.join(', ')}`);
  return value as AgentRole;
}

const parseGroups = (value: string | boolean | undefined): string[] | undefined =>
  typeof value === 'string' ? value.split(',').map((g) => g.trim()).filter(Boolean) : undefined;

/** Reads one line without echoing it (a password on a terminal). */
async function askHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

async function readStdinLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

async function newPassword(given: string | boolean | undefined): Promise<string> {
  if (typeof given === 'string') return given;
  if (!process.stdin.isTTY) {
    const line = await readStdinLine();
    if (line === '') throw usage('no password: give --password, type it at the prompt, or pipe it on stdin');
    return line;
  }
  const first = await askHidden('New password: ');
  const second = await askHidden('Repeat it: ');
  if (first !== second) throw new KefuError('KEFU_CLI_USAGE', ['the two passwords differ; nothing was changed']);
  return first;
}

// Terminal columns: CJK characters take two, so names like 小美 line up in the list.
const WIDE = /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u;
const columns = (s: string): number => [...s].reduce((n, ch) => n + (WIDE.test(ch) ? 2 : 1), 0);

const describeAgent = (a: Agent): string =>
  `${a.username} (${a.displayName}), role ${a.role}, groups ${a.groups.length > 0 ? a.groups.join(', ') : '(default only)'}${a.disabled ? ', DISABLED' : ''}`;

await runCli(USAGE, OPTIONS, async ({ values, positionals, config }) => {
  const [command, target, ...extra] = positionals;
  if (!command) throw usage('no command');
  if (extra.length > 0) throw usage(`unexpected arguments: ${extra.join(' ')}`);
  const username = (target ?? (typeof values.username === 'string' ? values.username : undefined))?.trim().toLowerCase();
  const db = config.database;
  const store = typeof values.db === 'string'
    ? openSqliteStore(values.db)
    : db.kind === 'postgres'
      ? await (await import('../src/store/postgres-store.ts')).openPostgresStore({ url: db.url!, schema: db.schema, poolSize: 1 }) // loadConfig refuses postgres without a url
      : openSqliteStore(db.path, { synchronous: db.synchronous });
  const accounts = createAgentAccounts({ store, sessionTtlMs: config.auth.sessionHours * 3_600_000 });
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    switch (command) {
      case 'add': {
        if (!username) throw usage('add needs --username');
        if (typeof values.name !== 'string') throw usage('add needs --name (shown to customers, e.g. 小美)');
        const role = parseRole(values.role);
        if (!role) throw usage('add needs --role');
        const input = { username, displayName: values.name, role, groups: parseGroups(values.groups) ?? [] };
        // Check everything but the password before asking for it.
        if (await store.findAgentByUsername(username)) throw new KefuError('KEFU_AGENT_EXISTS', [username]);
        const agent = await accounts.create({ ...input, password: await newPassword(values.password) });
        out(`created ${describeAgent(agent)}`);
        break;
      }
      case 'list': {
        const agents = await accounts.list();
        if (values.json) {
          for (const a of agents) out(JSON.stringify(a));
        } else if (agents.length === 0) {
          out('no accounts yet: npm run user -- add --username NAME --name DISPLAY --role admin');
        } else {
          const rows = [['USERNAME', 'NAME', 'ROLE', 'GROUPS', 'STATUS', 'LAST SIGN-IN'], ...agents.map((a) => [
            a.username, a.displayName, a.role, a.groups.join(',') || '-', a.disabled ? 'disabled' : 'active', a.lastLoginAt ?? '-',
          ])];
          const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => columns(r[i]!))));
          for (const r of rows) out(r.map((c, i) => c + ' '.repeat(widths[i]! - columns(c))).join('  ').trimEnd());
        }
        break;
      }
      case 'passwd': {
        if (!username) throw usage('passwd needs a username');
        await accounts.get(username);
        out(`new password set for ${describeAgent(await accounts.setPassword(username, await newPassword(values.password)))}; signed out everywhere`);
        break;
      }
      case 'set': {
        if (!username) throw usage('set needs a username');
        const patch = { displayName: typeof values.name === 'string' ? values.name : undefined, role: parseRole(values.role), groups: parseGroups(values.groups) };
        if (Object.values(patch).every((v) => v === undefined)) throw usage('set needs --name, --role or --groups');
        out(`updated ${describeAgent(await accounts.update(username, patch))}`);
        break;
      }
      case 'disable':
      case 'enable': {
        if (!username) throw usage(`${command} needs a username`);
        out(`${command}d ${describeAgent(await accounts.setDisabled(username, command === 'disable'))}`);
        break;
      }
      default:
        throw usage(`unknown command ${command}`);
    }
  } finally {
    await store.close();
  }
});
