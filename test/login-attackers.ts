/**
 * Password guessers for the hostile-registry test and bench/registry-auth-attack.ts:
 * N concurrent loops, each on its own keep-alive connection, sending wrong passwords
 * as fast as the server answers (they never honour Retry-After). They run in a child
 * process, so the load they make is not the measuring process's event loop.
 *
 *   node --import tsx test/login-attackers.ts '{"url":"http://127.0.0.1:5000","target":"basic",...}'
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AttackConfig {
  /** The registry, e.g. http://127.0.0.1:5000 */
  url: string;
  /** basic: registry requests with wrong Basic credentials; token: the token endpoint's GET with them. */
  target: 'basic' | 'token';
  /** The user name guessed at. */
  user: string;
  /** For target basic: the path asked for, e.g. /v2/team/app/manifests/v1. */
  path?: string;
  attackers: number;
  /** Each attacker stops after this long or this many requests, whichever comes first (or when stopped). */
  durationMs: number;
  maxRequests: number;
}

export interface AttackerReport {
  requests: number;
  statuses: Record<string, number>;
  /** 1-based number of the first request answered 429; 0 when none was. */
  first429: number;
  /** Every 429 carried a Retry-After of whole seconds >= 1. */
  retryAfterOk: boolean;
  /** The error codes in the bodies of the 429s. */
  codes: string[];
}

export interface Attack {
  /** Resolves once the attackers are sending. */
  started: Promise<void>;
  /** Ends the attack early (each attacker finishes the request it is in). */
  stop(): void;
  /** One report per attacker, once they have all stopped. */
  done: Promise<AttackerReport[]>;
}

/** Starts the attackers in a child process. */
export function startAttackers(config: AttackConfig): Attack {
  const self = fileURLToPath(import.meta.url);
  // From the repository root, where `--import tsx` resolves.
  const child = spawn(process.execPath, ['--import', 'tsx', self, JSON.stringify(config)], {
    cwd: dirname(dirname(self)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onStarted!: () => void;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('attacking')) onStarted();
  });
  const done = new Promise<AttackerReport[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the attackers exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as AttackerReport[]);
    });
  });
  return { started, done, stop: () => child.kill('SIGTERM') };
}

let stopping = false;

async function attack(config: AttackConfig, n: number): Promise<AttackerReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const report: AttackerReport = { requests: 0, statuses: {}, first429: 0, retryAfterOk: true, codes: [] };
  const until = Date.now() + config.durationMs;
  const path =
    config.target === 'token' ? '/token?service=slipway&scope=repository:team/app:pull' : (config.path ?? '/v2/');
  while (!stopping && Date.now() < until && report.requests < config.maxRequests) {
    const password = `guess-${n}-${report.requests}`;
    const authorization = `Basic ${Buffer.from(`${config.user}:${password}`).toString('base64')}`;
    const { status, retryAfter, body } = await get(agent, new URL(path, config.url), authorization);
    report.requests++;
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    if (status === 429) {
      if (report.first429 === 0) report.first429 = report.requests;
      if (!/^[1-9]\d*$/.test(retryAfter ?? '')) report.retryAfterOk = false;
      const code = (JSON.parse(body) as { errors?: { code: string }[] }).errors?.[0]?.code ?? '';
      if (!report.codes.includes(code)) report.codes.push(code);
    }
  }
  agent.destroy();
  return report;
}

function get(
  agent: Agent,
  url: URL,
  authorization: string,
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { Authorization: authorization } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = JSON.parse(process.argv[2]!) as AttackConfig;
  process.on('SIGTERM', () => (stopping = true));
  process.stderr.write('attacking\n');
  const reports = await Promise.all(Array.from({ length: config.attackers }, (_, n) => attack(config, n)));
  process.stdout.write(JSON.stringify(reports));
}
