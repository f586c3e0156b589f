/**
 * bench:chat — kefu's web chat under many concurrent customers, beside a bare fastify + socket.io echo server
 * (the ceiling) in the same run.
 *
 *   npm run bench:chat -- [--conversations N] [--messages M | --seconds S] [--rate R] [--drivers K] …
 *
 * Each server runs in a child process of its own (so its RSS and event loop are its own) on 127.0.0.1; the load
 * comes from 1..K forked load processes, each a socket.io client per customer. The last stdout line is one JSON
 * object; the full report goes to training/reports/bench-chat.json.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import pg from 'pg';
import { KefuError } from '../src/errors.ts';
import { probeMachine, type MachineProbe } from './machine-probe.ts';
import { SERVER_NODE_FLAGS } from './server-node-flags.ts';

const USAGE = `Usage: npm run bench:chat -- [options]

Starts kefu (scripts/server.ts) and a bare fastify + socket.io echo server (scripts/bench-echo-server.ts), one
after the other, each in its own child process on 127.0.0.1, and drives the same load against both: N customers,
each a socket.io client on the /chat namespace (websocket transport) with a conversation of its own, sending
zh-TW questions from the default pack's domain (some out of scope) in a closed loop: send, wait for the
acknowledgement carrying the reply, send the next. A conversation the bot hands to a person is replaced by a new
one. The kefu server gets a temporary config file raising both rate limits (a benchmark floods on purpose).

Two measured phases per server, after a warm-up:
  paced  each conversation sends at R/N messages a second (closed loop with think time): latency at that rate
  max    no think time: the most messages a second the server answers (latency there is queueing, ~ N / rate)

Options:
  --conversations N  concurrent conversations (default 500)
  --seconds S        run each measured phase for S seconds (default 5: the same length for both servers, so the
                     echo server's max phase is not over in a fraction of a second)
  --messages M       messages per conversation in each measured phase instead of --seconds
  --rate R           offered messages a second in the paced phase, all conversations together (default 2000;
                     0 skips the phase)
  --warmup W         messages per conversation before measuring, not counted (default 3)
  --drivers K        load-generating child processes (default 1)
  --db FILE          kefu's SQLite file (default a fresh temporary file, removed afterwards; :memory: keeps it in
                     memory, to see what the disk costs)
  --postgres URL     kefu on PostgreSQL at URL instead of SQLite, in a schema made for the run and dropped after it
  --redis URL        with --postgres: kefu as one of several instances, its sockets on the Redis adapter at URL
                     (the cost of sharing rooms and limits through Redis, with no second instance to share with)
  --log-level LVL    kefu server's log level (default info, the server's own default)
  --only SYSTEM      run only kefu or only echo
  --cpu-prof DIR     run the kefu server under node --cpu-prof, writing its profile to DIR
  --timeout S        give up after S seconds in all (default 900)
  -h, --help         this text

Prints a table, writes training/reports/bench-chat.json, and ends with one JSON line:
{"conversations","msgs_per_s","p50_ms","p99_ms","rss_mb","echo_msgs_per_s","echo_p99_ms"}
msgs_per_s is from the max phase; p50/p99 from the paced phase (or the max phase when --rate 0); rss_mb is the
kefu server's peak RSS (VmHWM) from the first conversation to the end of the run.
`;

/** Targets on the 2-core reference machine, checked and printed after the run. */
const TARGETS = { msgsPerS: 2000, conversations: 500, p99Ms: 50, ofEcho: 3 };

// Customer questions in the default pack's domain (bank and life insurance, zh-TW), worded for this benchmark,
// with out-of-scope ones (marked) spread so that a conversation never sends two in a row (two fallbacks in a row
// hand it to a person). None asks for a person or reports fraud: those go to the queue on purpose.
const UTTERANCES: readonly string[] = [
  '我的信用卡不見了，要怎麼辦理掛失？',
  '這個月的信用卡帳單金額是多少',
  '明天會不會下雨啊', // out of scope
  '信用卡費可以去超商繳嗎',
  '想把信用卡額度調高一點',
  '信用卡年費有辦法減免嗎',
  '分行星期六有營業嗎',
  '推薦我幾支會漲的股票', // out of scope
  '提款機把我的金融卡吞掉了',
  '今天美金匯率多少',
  '網路轉帳一天最多可以轉多少錢',
  '轉帳失敗但是錢已經被扣了',
  '附近有什麼好吃的餐廳', // out of scope
  '我想申請信貸，利率大概多少',
  '房貸的寬限期可以有幾年',
  '網銀密碼忘記了怎麼重設',
  '手機銀行一直登不進去',
  '幫我訂一張去東京的機票', // out of scope
  '線上開戶需要準備什麼',
  '怎麼查我的帳戶餘額',
  '你好',
  '謝謝你的幫忙',
  '客服專線電話幾號',
  '這期樂透開什麼號碼', // out of scope
  '你們會怎麼使用我的個人資料',
  '辦理業務要怎麼驗證身分',
  '你是機器人嗎',
  '保單受益人要怎麼變更',
  '我搬家了，保單上的地址要改',
  '保費可以用信用卡自動扣繳嗎',
  '幫我寫一首情詩', // out of scope
  '這期保費什麼時候要繳',
  '保費晚繳有寬限期嗎',
  '可以用保單借款嗎',
  '保單借款最多能借多少',
  '現在解約可以拿回多少錢',
  'iPhone 新款什麼時候上市', // out of scope
  '我想查我有哪些保單',
  '住院要怎麼申請理賠',
  '理賠要準備哪些文件',
  '理賠金可以先預付一部分嗎',
  '高雄現在氣溫幾度', // out of scope
  '在醫院可以直接抵扣理賠嗎',
  '颱風造成的損失可以理賠嗎',
  '我的理賠進度到哪裡了',
  '信用卡帳單什麼時候會寄出',
  '日圓現鈔賣出價多少',
  '掰掰',
  '晚餐吃什麼好', // out of scope
  'ATM 跨行提款手續費多少',
];

const ACK_TIMEOUT_MS = 10_000;
const CONNECT_BATCH = 50;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The schema a --postgres run stores in, made by the server at start and dropped when the run ends. */
const BENCH_SCHEMA = `kefu_bench_${process.pid}`;
const SELF = fileURLToPath(import.meta.url);

type System = 'kefu' | 'echo';
type PhaseName = 'warmup' | 'paced' | 'max';

interface Args {
  conversations: number;
  messages: number | null;
  seconds: number | null;
  rate: number;
  warmup: number;
  drivers: number;
  db: string | null;
  /** PostgreSQL connection string: the kefu server stores there instead of SQLite. */
  postgres: string | null;
  redis: string | null;
  logLevel: string;
  only: System | null;
  cpuProf: string | null;
  timeout: number;
}

function parseCli(argv: readonly string[]): Args | 'help' | 'driver' {
  if (argv[0] === '--role' && argv[1] === 'driver') return 'driver';
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        conversations: { type: 'string' },
        messages: { type: 'string' },
        seconds: { type: 'string' },
        rate: { type: 'string' },
        warmup: { type: 'string' },
        drivers: { type: 'string' },
        db: { type: 'string' },
        postgres: { type: 'string' },
        redis: { type: 'string' },
        'log-level': { type: 'string' },
        only: { type: 'string' },
        'cpu-prof': { type: 'string' },
        timeout: { type: 'string' },
      },
    });
  } catch (e) {
    throw new KefuError('KEFU_CLI_USAGE', [`${(e as Error).message}\n\n${USAGE}`]);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return 'help';
  const int = (name: string, min: number, max: number, dflt: number): number => {
    const raw = v[name];
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new KefuError('KEFU_CLI_USAGE', [`--${name} must be a whole number from ${min} to ${max}, not ${String(raw)}`]);
    return n;
  };
  if (v.messages !== undefined && v.seconds !== undefined) throw new KefuError('KEFU_CLI_USAGE', ['give --messages or --seconds, not both']);
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  const logLevel = typeof v['log-level'] === 'string' ? v['log-level'] : 'info';
  if (!levels.includes(logLevel)) throw new KefuError('KEFU_CLI_USAGE', [`--log-level is one of ${levels.join(', ')}`]);
  const only = v.only;
  if (only !== undefined && only !== 'kefu' && only !== 'echo') throw new KefuError('KEFU_CLI_USAGE', ['--only is kefu or echo']);
  const seconds = v.messages !== undefined ? null : int('seconds', 1, 600, 5);
  if (v.redis !== undefined && v.postgres === undefined) throw new KefuError('KEFU_CLI_USAGE', ['--redis needs --postgres (several instances share one database)']);
  return {
    conversations: int('conversations', 1, 5000, 500),
    messages: seconds === null ? int('messages', 1, 10_000, 20) : null,
    seconds,
    rate: int('rate', 0, 200_000, 2000),
    warmup: int('warmup', 0, 100, 3),
    drivers: int('drivers', 1, 8, 1),
    db: typeof v.db === 'string' ? (v.db === ':memory:' ? v.db : resolve(v.db)) : null,
    postgres: typeof v.postgres === 'string' ? v.postgres : null,
    redis: typeof v.redis === 'string' ? v.redis : null,
    logLevel,
    only: (only as System | undefined) ?? null,
    cpuProf: typeof v['cpu-prof'] === 'string' ? resolve(v['cpu-prof']) : null,
    timeout: int('timeout', 10, 7200, 900),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Load process: one socket.io client per conversation, driven by the parent over IPC.

interface DriverInit {
  type: 'init';
  url: string;
  system: System;
  /** Index of this load process, so customer ids and utterance offsets differ between processes. */
  index: number;
  conversations: number;
  /** First conversation number of this process (utterance offsets continue across processes). */
  offset: number;
  messages: number | null;
  seconds: number | null;
  warmup: number;
  /** This process's share of the paced phase's rate, messages a second. */
  rate: number;
}

interface PhaseResult {
  latencies: number[];
  /** The same replies timed from the send instead of the due time (equal in the max phase). */
  sendLatencies: number[];
  /** Messages acknowledged with a reply. */
  replied: number;
  errors: Record<string, number>;
  /** Conversations handed to a person (by the bot's decision) and replaced by new ones. */
  handoffs: number;
  outcomes: Record<string, number>;
  cpuMs: number;
  elapsedMs: number;
}

type ToDriver = DriverInit | { type: 'run'; phase: PhaseName } | { type: 'exit' };
type FromDriver = { type: 'ready'; failed: number } | { type: 'done'; phase: PhaseName; result: PhaseResult } | { type: 'error'; message: string };

interface Customer {
  socket: Socket;
  n: number;
  generation: number;
  conversationId: string;
  token: string;
  sent: number;
}

interface StartAck { ok: boolean; conversation?: { id: string }; token?: string; error?: { code: string } }
interface SendAck {
  ok: boolean;
  conversation?: { state: string };
  reply?: { text: string; outcome?: { outcome?: string } | null } | null;
  error?: { code: string; message: string };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A customer id the web channel accepts (letters only, so it can never look like personal data). */
function customerId(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return `bench_${Array.from(randomBytes(16), (b) => letters[b % 26]).join('')}`;
}

async function runDriver(): Promise<void> {
  const send = (m: FromDriver): void => void process.send?.(m);
  process.on('disconnect', () => process.exit(0)); // the parent is gone
  const init = await new Promise<DriverInit>((res) => process.once('message', (m: ToDriver) => m.type === 'init' && res(m)));
  const customers: Customer[] = [];

  const startConversation = async (c: Customer): Promise<void> => {
    const ack = (await c.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('conversation:start', { customerId: customerId(), locale: 'zh-TW' })) as StartAck;
    if (!ack.ok || !ack.conversation || !ack.token) throw new Error(`conversation:start refused: ${ack.error?.code ?? 'no conversation'}`);
    c.conversationId = ack.conversation.id;
    c.token = ack.token;
    c.generation++;
  };

  const open = async (n: number): Promise<Customer> => {
    const socket = connect(`${init.url}/chat`, { path: '/socket.io', transports: ['websocket'], forceNew: true, reconnection: false, timeout: ACK_TIMEOUT_MS });
    await new Promise<void>((res, rej) => {
      socket.once('connect', () => res());
      socket.once('connect_error', (e) => rej(e));
    });
    const c: Customer = { socket, n, generation: 0, conversationId: '', token: '', sent: 0 };
    await startConversation(c);
    return c;
  };

  let failed = 0;
  for (let i = 0; i < init.conversations; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, init.conversations - i) }, (_, j) => open(init.offset + i + j));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === 'fulfilled') customers.push(r.value);
      else failed++;
    }
  }
  send({ type: 'ready', failed });

  const runPhase = async (phase: PhaseName): Promise<PhaseResult> => {
    const result: PhaseResult = { latencies: [], sendLatencies: [], replied: 0, errors: {}, handoffs: 0, outcomes: {}, cpuMs: 0, elapsedMs: 0 };
    const fail = (code: string): void => void (result.errors[code] = (result.errors[code] ?? 0) + 1);
    const count = phase === 'warmup' ? init.warmup : init.messages;
    const start = performance.now();
    const deadline = phase !== 'warmup' && init.seconds !== null ? start + init.seconds * 1000 : Infinity;
    // Paced: each conversation's share of the rate, first sends spread over one interval so they do not bunch.
    const interval = phase === 'paced' && init.rate > 0 ? (customers.length / init.rate) * 1000 : 0;
    const cpu0 = process.cpuUsage();

    const loop = async (c: Customer): Promise<void> => {
      let next = start + Math.random() * interval;
      for (let k = 0; count === null ? performance.now() < deadline : k < count; k++) {
        if (interval > 0) {
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
          if (performance.now() >= deadline) break;
        }
        // Paced: latency counts from when the message was due, so a stall that holds sends back is not hidden by the
        // closed loop (coordinated omission). The schedule is kept through a stall: the messages due meanwhile are
        // sent as soon as the conversation may (one at a time), each timed from its own due time, as customers who
        // kept typing would be.
        const due = interval > 0 ? next : performance.now();
        if (interval > 0) next += interval;
        const text = UTTERANCES[(c.n * 7 + c.sent) % UTTERANCES.length]!;
        c.sent++;
        const sentAt = performance.now();
        let ack: SendAck;
        try {
          ack = (await c.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('message:send', {
            conversationId: c.conversationId, token: c.token, text, clientMessageId: `b${init.index}-${c.generation}-${c.sent}`,
          })) as SendAck;
        } catch {
          // Unanswered: a latency of at least the wait, so the percentiles show it as well as the error count.
          result.latencies.push(performance.now() - due);
          fail(c.socket.connected ? 'ack-timeout' : 'disconnected');
          if (!c.socket.connected) return;
          continue;
        }
        const ms = Math.max(0, performance.now() - due); // a timer may fire a hair before the slot it was set for
        if (!ack.ok) {
          fail(ack.error?.code ?? 'unknown');
          continue;
        }
        if (!ack.reply) {
          // The conversation is with a person: no bot reply will come, so this customer starts over.
          fail('no-reply');
          await startConversation(c).catch(() => fail('restart-failed'));
          continue;
        }
        result.latencies.push(ms);
        result.sendLatencies.push(performance.now() - sentAt);
        result.replied++;
        const outcome = ack.reply.outcome?.outcome ?? 'reply';
        result.outcomes[outcome] = (result.outcomes[outcome] ?? 0) + 1;
        if (ack.conversation && ack.conversation.state !== 'bot') {
          result.handoffs++;
          await startConversation(c).catch(() => fail('restart-failed'));
        }
      }
    };
    await Promise.all(customers.map(loop));
    const cpu = process.cpuUsage(cpu0);
    result.cpuMs = (cpu.user + cpu.system) / 1000;
    result.elapsedMs = performance.now() - start;
    return result;
  };

  process.on('message', (m: ToDriver) => {
    if (m.type === 'run') {
      runPhase(m.phase).then(
        (result) => send({ type: 'done', phase: m.phase, result }),
        (e: unknown) => send({ type: 'error', message: (e as Error).message }),
      );
    } else if (m.type === 'exit') {
      for (const c of customers) c.socket.disconnect();
      setTimeout(() => process.exit(0), 50);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: servers, load processes, measurements.

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

interface ProcStatus { hwmMb: number; rssMb: number }

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, from /proc. */
function procStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/** Resets a process's VmHWM to its current RSS, so the peak read later is the peak under load, not start-up's. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Bytes a process has sent towards storage (/proc/<pid>/io write_bytes: the WAL, the checkpoints into the database
 * file, its logs), NaN where the kernel does not keep I/O accounting. Sockets do not count.
 */
function procDiskWriteBytes(pid: number): number {
  try {
    return Number(/^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** CPU time a process has used (user + system), ms, from /proc/<pid>/stat (clock ticks of 10 ms on Linux). */
function procCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time of a process's main thread alone (its event loop: sockets, JSON, the turn's bookkeeping), ms. It is what
 * saturates first, and unlike wall-clock rates it stays comparable when other processes share the machine.
 */
function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMs(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of the full line)
}

/** CPU time the whole machine has spent busy (all cores), ms, from /proc/stat. */
function machineBusyMs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = (cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0) + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
  return busy * 10;
}

interface Server {
  system: System;
  child: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
  startupHwmMb: number;
  peakReset: boolean;
  stop(): Promise<void>;
}

async function startServer(system: System, args: Args, tmp: string): Promise<Server> {
  const port = await freePort();
  const logFile = join(tmp, `${system}-server.log`);
  const env: NodeJS.ProcessEnv = { ...process.env, KEFU_HOST: '127.0.0.1', KEFU_PORT: String(port) };
  // Both servers run with the node flags `npm start` uses, so the echo ceiling is measured on the same runtime settings.
  const nodeArgs = [...SERVER_NODE_FLAGS, '--import', 'tsx'];
  let script = join(ROOT, 'scripts/bench-echo-server.ts');
  if (system === 'kefu') {
    const config = join(tmp, 'kefu-bench-config.json');
    // A benchmark floods on purpose, from one address: every limit raised so no message is refused for coming too fast.
    const unlimited = 1_000_000_000;
    writeFileSync(config, JSON.stringify({
      rateLimit: { perIpPerMinute: unlimited, perConversationPerMinute: unlimited, socketEventsPerIpPerMinute: unlimited, startsPerIpPerMinute: unlimited },
    }));
    Object.assign(env, {
      KEFU_CONFIG: config,
      KEFU_DB_PATH: args.db ?? join(tmp, 'kefu-bench.sqlite'),
      KEFU_LOG_LEVEL: args.logLevel,
      KEFU_SECRET: randomBytes(32).toString('hex'),
      ...(args.postgres ? { KEFU_DB_KIND: 'postgres', KEFU_DB_URL: args.postgres, KEFU_DB_SCHEMA: BENCH_SCHEMA } : {}),
      ...(args.redis ? { KEFU_REDIS_URL: args.redis } : {}),
    });
    script = join(ROOT, 'scripts/server.ts');
    if (args.cpuProf) {
      mkdirSync(args.cpuProf, { recursive: true });
      nodeArgs.push('--cpu-prof', '--cpu-prof-dir', args.cpuProf);
    }
  }
  // Logs go straight to a file (as to a collector in production), not through a pipe this process must drain.
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, script], { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = `http://127.0.0.1:${port}`;

  // The model trains on first start when training/models has none for this pack: allow for that.
  const readyBy = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${system} server exited before it was ready; its log (${logFile}) ends:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > readyBy) throw new Error(`${system} server not ready after 300 s; log: ${logFile}`);
    await sleep(200);
  }
  const pid = child.pid!;
  const startupHwmMb = procStatus(pid).hwmMb;
  return {
    system, child, pid, url, logFile, startupHwmMb, peakReset: resetPeak(pid),
    async stop() {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killed);
      children.delete(child);
    },
  };
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Driver {
  child: ChildProcess;
  next(): Promise<FromDriver>;
  send(m: ToDriver): void;
}

function startDriver(): Driver {
  const child = fork(SELF, ['--role', 'driver'], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const queue: FromDriver[] = [];
  const waiting: ((m: FromDriver) => void)[] = [];
  child.on('message', (m: FromDriver) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  child.once('exit', (code) => {
    children.delete(child);
    const m: FromDriver = { type: 'error', message: `load process exited with ${code}` };
    for (const w of waiting.splice(0)) w(m);
    queue.push(m);
  });
  return {
    child,
    next: () => {
      const m = queue.shift();
      return m ? Promise.resolve(m) : new Promise((res) => waiting.push(res));
    },
    send: (m) => void child.send(m),
  };
}

/** The next message of every driver, which must be of `type`. */
async function collect<T extends FromDriver['type']>(drivers: Driver[], type: T): Promise<Extract<FromDriver, { type: T }>[]> {
  const msgs = await Promise.all(drivers.map((d) => d.next()));
  for (const m of msgs) if (m.type === 'error') throw new Error(m.message);
  for (const m of msgs) if (m.type !== type) throw new Error(`expected ${type} from a load process, got ${m.type}`);
  return msgs as Extract<FromDriver, { type: T }>[];
}

/** What /metrics said at one moment (kefu only): the reply-time histogram and the turns by outcome. */
interface Scrape {
  count: number;
  sum: number;
  buckets: Map<string, number>;
  outcomes: Map<string, number>;
  /** The main thread's garbage collection (prom-client's default metrics), by kind: pauses and seconds. */
  gc: Map<string, { count: number; sum: number }>;
}

async function scrape(url: string): Promise<Scrape | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const s: Scrape = { count: 0, sum: 0, buckets: new Map(), outcomes: new Map(), gc: new Map() };
    const gcKind = (kind: string) => s.gc.get(kind) ?? (s.gc.set(kind, { count: 0, sum: 0 }), s.gc.get(kind)!);
    for (const line of text.split('\n')) {
      let m: RegExpExecArray | null;
      if ((m = /^kefu_reply_seconds_bucket\{le="([^"]+)"\} (\S+)$/.exec(line))) s.buckets.set(m[1]!, Number(m[2]));
      else if ((m = /^kefu_reply_seconds_sum (\S+)$/.exec(line))) s.sum = Number(m[1]);
      else if ((m = /^kefu_reply_seconds_count (\S+)$/.exec(line))) s.count = Number(m[1]);
      else if ((m = /^nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} (\S+)$/.exec(line))) gcKind(m[2]!)[m[1] as 'sum' | 'count'] = Number(m[3]);
      else if ((m = /^kefu_turns_total\{outcome="([^"]+)",brain="([^"]+)"\} (\S+)$/.exec(line))) {
        const key = m[1]!;
        s.outcomes.set(key, (s.outcomes.get(key) ?? 0) + Number(m[3]));
      }
    }
    return s;
  } catch {
    return null;
  }
}

interface ServerTurn {
  /**
   * Mean ms from a message reaching the conversation service to its stored reply, from kefu_reply_seconds: storing
   * it, the router, the reply's write and the waits for the store's group commits.
   */
  mean_ms: number;
  /** The main thread's garbage collection over the phase, by kind (major, minor, incremental …): pauses and total ms. */
  gc: Record<string, { pauses: number; ms: number }>;
  /** Upper bound of the histogram bucket holding the 99th percentile. */
  p99_bucket_ms: number | null;
  turns: number;
  outcomes: Record<string, number>;
}

function turnBetween(a: Scrape | null, b: Scrape | null): ServerTurn | null {
  if (!a || !b || b.count <= a.count) return null;
  const turns = b.count - a.count;
  let p99: number | null = null;
  for (const [le, n] of b.buckets) {
    if (n - (a.buckets.get(le) ?? 0) >= 0.99 * turns) {
      p99 = le === '+Inf' ? Infinity : Number(le) * 1000;
      break;
    }
  }
  const outcomes: Record<string, number> = {};
  for (const [k, n] of b.outcomes) if (n - (a.outcomes.get(k) ?? 0) > 0) outcomes[k] = n - (a.outcomes.get(k) ?? 0);
  const gc: ServerTurn['gc'] = {};
  for (const [kind, g] of b.gc) {
    const before = a.gc.get(kind) ?? { count: 0, sum: 0 };
    if (g.count > before.count) gc[kind] = { pauses: g.count - before.count, ms: (g.sum - before.sum) * 1000 };
  }
  return { mean_ms: ((b.sum - a.sum) / turns) * 1000, gc, p99_bucket_ms: p99, turns, outcomes };
}

interface PhaseSummary {
  phase: PhaseName;
  messages: number;
  seconds: number;
  msgs_per_s: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  /** p99 of the replies timed from their send: what the server and the network took, without sends held back. */
  p99_from_send_ms: number;
  errors: Record<string, number>;
  handoffs: number;
  /** Replies by the bot's decision (answer, clarify, fallback, handoff), as the customer saw them. */
  reply_outcomes: Record<string, number>;
  /** Server CPU over the phase: percent of one core, and ms per message. */
  server_cpu_pct: number;
  server_cpu_ms_per_msg: number;
  /** The server's main thread alone over the phase: percent of one core, and ms per message. */
  server_main_thread_pct: number;
  server_main_thread_ms_per_msg: number;
  /** What the server wrote towards storage per message answered (WAL, checkpoints, logs), KiB. */
  server_disk_kb_per_msg: number;
  /** Load processes' CPU over the phase, percent of one core (all together). */
  load_cpu_pct: number;
  /** CPU the rest of the machine used meanwhile (other processes on a shared machine), percent of one core. */
  other_cpu_pct: number;
  offered_rate: number | null;
  server_turn: ServerTurn | null;
}

interface SystemReport {
  system: System;
  failed_starts: number;
  phases: Partial<Record<'paced' | 'max', PhaseSummary>>;
  rss_peak_mb: number;
  rss_end_mb: number;
  rss_ready_mb: number;
  /** Whether the peak counts from the first conversation (VmHWM reset when ready) or from process start. */
  rss_peak_from: 'load' | 'process start';
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function runSystem(system: System, args: Args, tmp: string): Promise<SystemReport> {
  process.stderr.write(`bench:chat: starting ${system} server…\n`);
  const server = await startServer(system, args, tmp);
  const drivers: Driver[] = [];
  try {
    const per = Math.floor(args.conversations / args.drivers);
    let offset = 0;
    for (let i = 0; i < args.drivers; i++) {
      const n = i < args.drivers - 1 ? per : args.conversations - offset;
      const d = startDriver();
      drivers.push(d);
      d.send({
        type: 'init', url: server.url, system, index: i, conversations: n, offset, messages: args.messages, seconds: args.seconds,
        warmup: args.warmup, rate: (args.rate * n) / args.conversations,
      });
      offset += n;
    }
    process.stderr.write(`bench:chat: ${args.conversations} customers connecting to ${system}…\n`);
    const ready = await collect(drivers, 'ready');
    const failedStarts = ready.reduce((s, r) => s + r.failed, 0);
    if (failedStarts > args.conversations / 20) throw new Error(`${failedStarts} of ${args.conversations} conversations could not start; ${system} log: ${server.logFile}`);

    const phases: SystemReport['phases'] = {};
    const plan: PhaseName[] = [...(args.warmup > 0 ? ['warmup' as const] : []), ...(args.rate > 0 ? ['paced' as const] : []), 'max'];
    for (const phase of plan) {
      process.stderr.write(`bench:chat: ${system}: ${phase}…\n`);
      const before = system === 'kefu' ? await scrape(server.url) : null;
      const cpu0 = procCpuMs(server.pid);
      const main0 = mainThreadCpuMs(server.pid);
      const disk0 = procDiskWriteBytes(server.pid);
      const busy0 = machineBusyMs();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      for (const d of drivers) d.send({ type: 'run', phase });
      const done = await collect(drivers, 'done');
      const wallMs = performance.now() - t0;
      const serverCpuMs = procCpuMs(server.pid) - cpu0;
      const mainCpuMs = mainThreadCpuMs(server.pid) - main0;
      const diskBytes = procDiskWriteBytes(server.pid) - disk0;
      const own = process.cpuUsage(own0);
      const loadCpuMs = done.reduce((s, m) => s + m.result.cpuMs, 0);
      const otherCpuMs = machineBusyMs() - busy0 - serverCpuMs - loadCpuMs - (own.user + own.system) / 1000;
      if (phase === 'warmup') continue;
      const after = system === 'kefu' ? await scrape(server.url) : null;
      const latencies = done.flatMap((m) => m.result.latencies).sort((a, b) => a - b);
      const fromSend = done.flatMap((m) => m.result.sendLatencies).sort((a, b) => a - b);
      const replied = done.reduce((s, m) => s + m.result.replied, 0);
      const errors: Record<string, number> = {};
      const outcomes: Record<string, number> = {};
      for (const m of done) for (const [k, n] of Object.entries(m.result.errors)) errors[k] = (errors[k] ?? 0) + n;
      for (const m of done) for (const [k, n] of Object.entries(m.result.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
      phases[phase] = {
        phase,
        messages: replied,
        seconds: wallMs / 1000,
        msgs_per_s: replied / (wallMs / 1000),
        p50_ms: percentile(latencies, 0.5),
        p90_ms: percentile(latencies, 0.9),
        p99_ms: percentile(latencies, 0.99),
        max_ms: latencies[latencies.length - 1] ?? NaN,
        p99_from_send_ms: percentile(fromSend, 0.99),
        errors,
        handoffs: done.reduce((s, m) => s + m.result.handoffs, 0),
        reply_outcomes: outcomes,
        server_cpu_pct: (100 * serverCpuMs) / wallMs,
        server_cpu_ms_per_msg: replied ? serverCpuMs / replied : NaN,
        server_main_thread_pct: (100 * mainCpuMs) / wallMs,
        server_main_thread_ms_per_msg: replied ? mainCpuMs / replied : NaN,
        server_disk_kb_per_msg: replied ? diskBytes / 1024 / replied : NaN,
        load_cpu_pct: (100 * loadCpuMs) / wallMs,
        other_cpu_pct: Math.max(0, (100 * otherCpuMs) / wallMs),
        offered_rate: phase === 'paced' ? args.rate : null,
        server_turn: turnBetween(before, after),
      };
    }
    const mem = procStatus(server.pid);
    for (const d of drivers) d.send({ type: 'exit' });
    return {
      system, failed_starts: failedStarts, phases,
      rss_peak_mb: server.peakReset ? mem.hwmMb : Math.max(mem.hwmMb, server.startupHwmMb),
      rss_end_mb: mem.rssMb,
      rss_ready_mb: server.startupHwmMb,
      rss_peak_from: server.peakReset ? 'load' : 'process start',
    };
  } finally {
    for (const d of drivers) if (d.child.exitCode === null) d.child.kill('SIGTERM');
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const f = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits));

function printTable(args: Args, echo: SystemReport | null, kefu: SystemReport | null, probe: MachineProbe): void {
  const load = args.seconds !== null ? `${args.seconds} s` : `${args.messages} messages per conversation`;
  console.log(`\nbench:chat — ${args.conversations} conversations, ${load} per phase, ${args.warmup} warm-up messages each, ` +
    `${args.drivers} load process${args.drivers > 1 ? 'es' : ''}, websocket transport, 127.0.0.1`);
  console.log(`machine: ${cpus().length} cores; a message to another thread and back ${probe.thread_round_trip_us.toFixed(0)} µs ` +
    `(${probe.thread_round_trip_cpu_us.toFixed(0)} µs CPU); a read from memory outside the caches ${probe.memory_read_ns.toFixed(0)} ns ` +
    '(figures differ between machines with these: compare runs on one machine)');
  console.log(`servers: node ${SERVER_NODE_FLAGS.join(' ')} (as npm start)`);
  console.log(`kefu: log level ${args.logLevel}, ${args.postgres ? `PostgreSQL (schema ${BENCH_SCHEMA}, dropped after)` : `SQLite ${args.db ?? 'temporary file'}`}${args.redis ? ', sockets on the Redis adapter' : ''}, rate limits raised to 10^9 a minute by a temporary config file (the benchmark floods on purpose)`);
  // The last column is free text: a space keeps a long one from running into the kefu figure.
  const cols = (label: string, e: string, k: string, ratio = ''): string => `${label.padEnd(36)}${e.padStart(16)}${k.padStart(16)} ${ratio.padStart(15)}`;
  /** How many times kefu's figure is the echo server's (for costs), or how many times slower kefu is (for rates). */
  const ratio = (e: number | undefined, k: number | undefined, kind: 'rate' | 'cost'): string =>
    e && k ? (kind === 'rate' ? `${(e / k).toFixed(2)}× slower` : `${(k / e).toFixed(1)}×`) : '';
  console.log(cols('', 'echo', 'kefu', 'kefu vs echo'));
  for (const name of ['max', 'paced'] as const) {
    const e = echo?.phases[name];
    const k = kefu?.phases[name];
    if (!e && !k) continue;
    console.log(name === 'max' ? 'max phase (no think time)' : `paced phase (offered ${args.rate} msgs/s in all)`);
    console.log(cols('  messages/s', f(e?.msgs_per_s, 0), f(k?.msgs_per_s, 0), name === 'max' ? ratio(e?.msgs_per_s, k?.msgs_per_s, 'rate') : ''));
    console.log(cols('  reply p50 / p99 ms', e ? `${f(e.p50_ms)} / ${f(e.p99_ms)}` : '—', k ? `${f(k.p50_ms)} / ${f(k.p99_ms)}` : '—'));
    console.log(cols('  reply p90 / max ms', e ? `${f(e.p90_ms)} / ${f(e.max_ms, 0)}` : '—', k ? `${f(k.p90_ms)} / ${f(k.max_ms, 0)}` : '—'));
    if (name === 'paced') console.log(cols('  reply p99 from the send ms', f(e?.p99_from_send_ms), f(k?.p99_from_send_ms), 'not the due time'));
    console.log(cols('  server CPU % of a core', f(e?.server_cpu_pct, 0), f(k?.server_cpu_pct, 0)));
    console.log(cols('  server CPU ms per message', f(e?.server_cpu_ms_per_msg, 3), f(k?.server_cpu_ms_per_msg, 3), ratio(e?.server_cpu_ms_per_msg, k?.server_cpu_ms_per_msg, 'cost')));
    console.log(cols('  server disk writes KiB per message', f(e?.server_disk_kb_per_msg, 1), f(k?.server_disk_kb_per_msg, 1), 'WAL, checkpoints, logs'));
    console.log(cols('  main thread CPU % / ms per message', e ? `${f(e.server_main_thread_pct, 0)} / ${f(e.server_main_thread_ms_per_msg, 3)}` : '—', k ? `${f(k.server_main_thread_pct, 0)} / ${f(k.server_main_thread_ms_per_msg, 3)}` : '—'));
    console.log(cols('  load processes CPU % of a core', f(e?.load_cpu_pct, 0), f(k?.load_cpu_pct, 0)));
    console.log(cols('  other processes CPU % of a core', f(e?.other_cpu_pct, 0), f(k?.other_cpu_pct, 0), 'shared machine'));
    const t = k?.server_turn;
    if (t) console.log(cols('  kefu received → reply committed ms, mean', '', f(t.mean_ms, 2), t.p99_bucket_ms !== null ? `p99 ≤ ${t.p99_bucket_ms} ms` : ''));
    if (t && k) {
      const gcMs = Object.values(t.gc).reduce((sum, g) => sum + g.ms, 0);
      const byKind = Object.entries(t.gc).map(([kind, g]) => `${kind} ${g.pauses}×${f(g.ms / g.pauses, 1)}`).join(', ');
      console.log(cols('  kefu main thread GC % of the phase', '', f((100 * gcMs) / (k.seconds * 1000), 1), byKind));
    }
    const errs = [e, k].map((p) => (p ? Object.entries(p.errors).map(([c, n]) => `${c} ${n}`).join(', ') || 'none' : '—'));
    console.log(cols('  errors', errs[0]!, errs[1]!));
    if (k) console.log(cols('  kefu handoffs (customer restarted)', '', String(k.handoffs)));
  }
  console.log(cols('conversations that could not start', echo ? String(echo.failed_starts) : '—', kefu ? String(kefu.failed_starts) : '—'));
  console.log(cols('server RSS peak MB', f(echo?.rss_peak_mb, 0), f(kefu?.rss_peak_mb, 0)));
  console.log(cols('server RSS when ready / at end MB', echo ? `${f(echo.rss_ready_mb, 0)} / ${f(echo.rss_end_mb, 0)}` : '—', kefu ? `${f(kefu.rss_ready_mb, 0)} / ${f(kefu.rss_end_mb, 0)}` : '—'));
  const busiest = Math.max(0, ...[echo, kefu].flatMap((r) => Object.values(r?.phases ?? {}).map((p) => p.other_cpu_pct)));
  if (busiest > 25) console.log(`warning: other processes used up to ${busiest.toFixed(0)}% of a core during a phase: this shared machine was busy, so rates are low and latencies high`);
  const outcomes = kefu?.phases.max?.reply_outcomes;
  if (outcomes) console.log(`kefu replies by outcome (max phase): ${Object.entries(outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}`);
}

/** Messages a server refused or left unanswered in the measured phases, and conversations it would not start. */
function failures(r: SystemReport | null): number {
  if (!r) return 0;
  return r.failed_starts + Object.values(r.phases).reduce((sum, p) => sum + Object.values(p.errors).reduce((a, n) => a + n, 0), 0);
}

function checkTargets(args: Args, echo: SystemReport | null, kefu: SystemReport | null): { target: string; met: boolean | null; value: string }[] {
  // A run in which kefu refused, dropped or failed to start anything proves no target: its rates and latencies are of
  // the messages that were served only.
  const failed = failures(kefu);
  const clean = (met: boolean | null): boolean | null => (met === null ? null : met && failed === 0);
  const note = failed > 0 ? ` (not a clean run: ${failed} failures)` : '';
  const kMax = kefu?.phases.max;
  const kLat = kefu?.phases.paced ?? kMax;
  const eMax = echo?.phases.max;
  const driven = args.conversations - (kefu?.failed_starts ?? 0);
  const at = driven === TARGETS.conversations ? '' : ` (run had ${driven} conversations, target is at ${TARGETS.conversations})`;
  return [
    { target: `≥ ${TARGETS.msgsPerS} messages/s${at}`, met: clean(kMax ? kMax.msgs_per_s >= TARGETS.msgsPerS : null), value: `${f(kMax?.msgs_per_s, 0)}${note}` },
    {
      target: `reply p99 ≤ ${TARGETS.p99Ms} ms${kefu?.phases.paced ? ` at ${args.rate} msgs/s offered` : ' (max phase)'}`,
      met: clean(kLat ? kLat.p99_ms <= TARGETS.p99Ms && (!kefu?.phases.paced || kLat.msgs_per_s >= 0.95 * args.rate) : null),
      value: kLat ? `${f(kLat.p99_ms)} ms${kefu?.phases.paced ? ` (achieved ${f(kLat.msgs_per_s, 0)} msgs/s)` : ''}${note}` : '—',
    },
    {
      target: `within ${TARGETS.ofEcho}× of the echo ceiling`,
      met: clean(kMax && eMax ? eMax.msgs_per_s / kMax.msgs_per_s <= TARGETS.ofEcho && failures(echo) === 0 : null),
      value: kMax && eMax ? `${(eMax.msgs_per_s / kMax.msgs_per_s).toFixed(2)}×${note}${failures(echo) > 0 ? ` (echo: ${failures(echo)} failures)` : ''}` : '—',
    },
  ];
}

async function dropBenchSchema(url: string): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  try {
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE`);
  } catch (e) {
    process.stderr.write(`bench:chat: could not drop schema ${BENCH_SCHEMA}: ${(e as Error).message}\n`);
  } finally {
    await db.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const parsed = parseCli(process.argv.slice(2));
  if (parsed === 'driver') return runDriver();
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const args = parsed;
  const tmp = mkdtempSync(join(tmpdir(), 'kefu-bench-chat-'));
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:chat: gave up after ${args.timeout} s (--timeout)\n`);
    killAll();
    rmSync(tmp, { recursive: true, force: true });
    void (args.postgres ? dropBenchSchema(args.postgres) : Promise.resolve()).finally(() => process.exit(1));
  }, args.timeout * 1000);
  watchdog.unref();
  const onSignal = (): void => {
    killAll();
    rmSync(tmp, { recursive: true, force: true });
    void (args.postgres ? dropBenchSchema(args.postgres) : Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAll);

  try {
    // Before any server starts, so that nothing else of the benchmark runs beside it.
    const probe = await probeMachine();
    // The ceiling first, then kefu, with the same parameters.
    const echo = args.only === 'kefu' ? null : await runSystem('echo', args, tmp);
    const kefu = args.only === 'echo' ? null : await runSystem('kefu', args, tmp);
    printTable(args, echo, kefu, probe);
    const targets = checkTargets(args, echo, kefu);
    console.log('targets:');
    for (const t of targets) console.log(`  ${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'}  ${t.target.padEnd(44)} ${t.value}`);
    if (args.cpuProf) console.log(`kefu server CPU profile: ${args.cpuProf}`);

    const kLat = kefu?.phases.paced ?? kefu?.phases.max;
    const eLat = echo?.phases.paced ?? echo?.phases.max;
    const round = (x: number | undefined, d = 1): number | null => (x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(d)));
    const line = {
      conversations: args.conversations - (kefu?.failed_starts ?? 0),
      msgs_per_s: round(kefu?.phases.max?.msgs_per_s, 0),
      p50_ms: round(kLat?.p50_ms, 2),
      p99_ms: round(kLat?.p99_ms, 2),
      rss_mb: round(kefu?.rss_peak_mb, 0),
      echo_msgs_per_s: round(echo?.phases.max?.msgs_per_s, 0),
      echo_p99_ms: round(eLat?.p99_ms, 2),
    };
    const report = {
      generated: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, ...probe },
      args: { ...args, db: args.postgres ? null : (args.db ?? 'temporary file'), postgres: args.postgres ? 'PostgreSQL (URL not kept)' : null, redis: args.redis ? 'Redis (URL not kept)' : null },
      notes: [
        'kefu ran with every rateLimit (per address, per conversation, socket events, starts) raised to 1e9 by a temporary config file',
        'latency is client-measured, to the acknowledgement carrying the reply: in the paced phase from the moment the message was due by the schedule (a stall that holds back sends counts), in the max phase from the send; an unanswered message counts as its wait (at least 10 s) and as an error',
        'a run with any error or conversation that could not start meets no target and exits with code 1',
        'msgs_per_s is from the max phase (closed loop, no think time); p50/p99 from the paced phase at the offered rate',
        'rss is the server process VmHWM, reset when the server was ready, so it is the peak under load',
        'per turn kefu pushes the customer message and the reply to the conversation room\'s other sockets (none here: one per conversation) and bot:typing only when an answer takes over 300 ms; the sender gets both in its acknowledgement, as on the echo server',
        'other_cpu_pct is CPU used by the rest of the machine during a phase (other processes on a shared machine)',
        `both servers ran with the node flags npm start uses: ${SERVER_NODE_FLAGS.join(' ')}`,
      ],
      targets,
      echo,
      kefu,
      summary: line,
    };
    mkdirSync(join(ROOT, 'training/reports'), { recursive: true });
    const file = join(ROOT, 'training/reports/bench-chat.json');
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    console.log(`report: ${file}`);
    console.log(JSON.stringify(line));
    const failed = failures(kefu) + failures(echo);
    if (failed > 0) {
      process.stderr.write(`bench:chat: not a clean run: ${failed} messages or starts failed (see "errors" above); the figures count only what was served\n`);
      process.exitCode = 1;
    }
  } finally {
    clearTimeout(watchdog);
    rmSync(tmp, { recursive: true, force: true }); // the temporary database and config, the servers' logs
    if (args.postgres) await dropBenchSchema(args.postgres);
  }
}

main().catch((e: unknown) => {
  killAll();
  if (e instanceof KefuError) {
    process.stderr.write(`bench:chat: ${e.message}\n`);
    process.exit(e.code === 'KEFU_CLI_USAGE' ? 2 : 1);
  }
  process.stderr.write(`bench:chat: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
