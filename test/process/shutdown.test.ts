/**
 * SIGTERM to the built server, started as `node dist/index.js` and as `npm start`: `/ready` answers
 * 503 while a slow query finishes, the query is answered, the process exits 0, and nothing is left
 * running. The build runs once, here; `npm start --ignore-scripts` then skips only its `prestart`
 * build (the signal path npm → sh → node is the same as for `npm install && npm start`).
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const SLOW_QUERY = '{ products(first: 3) { edges { node { sku } } } }';

/** Environment of a newcomer's machine: no upstream, no Redis; a slow built-in emulator. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(e)) {
    if (/^(LEGACY_|REDIS_URL|WSZ_CONFIG_FILE|EMULATOR_|NODE_ENV|npm_)/.test(key)) delete e[key];
  }
  return { ...e, PORT: '0', HOST: '127.0.0.1', EMULATOR_LATENCY_MS: '700', ...extra };
}

interface Started {
  child: ChildProcessWithoutNullStreams;
  port: number;
  lines: Array<Record<string, unknown>>;
  /** Pid of the node process serving (the child itself, or npm's child). */
  serverPid: number;
}

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

function commandOf(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function start(command: string, args: string[], extra: Record<string, string> = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: root, env: env(extra) });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const reader = createInterface({ input: child.stdout });
  const ready = new Promise<number>((resolve, reject) => {
    reader.on('line', (line) => {
      if (!line.startsWith('{')) return; // npm's own banner
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (String(parsed.msg).startsWith('subgraph ready')) resolve(parsed.port as number);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
  const port = await ready;
  const serverPid = lines[0].pid as number;
  return { child, port, lines, serverPid };
}

async function readyStatus(port: number): Promise<{ status: number; body: { status: string; inFlight: number } }> {
  const response = await fetch(`http://127.0.0.1:${port}/ready`);
  return { status: response.status, body: (await response.json()) as { status: string; inFlight: number } };
}

/** Sends a slow query, SIGTERMs `signalled` while it is in flight, and checks the drain and the exit. */
async function sigtermDuringSlowQuery(started: Started, signalled: ChildProcessWithoutNullStreams) {
  const { child, port } = started;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const answer = fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: SLOW_QUERY }),
  });
  // In flight: the readiness counts it.
  for (let i = 0; i < 100 && (await readyStatus(port)).body.inFlight < 1; i++) await new Promise((r) => setTimeout(r, 20));
  const signalledAt = Date.now();
  signalled.kill('SIGTERM');

  let draining: { status: number; body: { status: string } } | undefined;
  for (let i = 0; i < 100; i++) {
    const probe = await readyStatus(port);
    if (probe.status === 503) {
      draining = probe;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(draining, '/ready answered 503 during the drain').toMatchObject({ status: 503, body: { status: 'draining' } });

  const response = await answer;
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data?: { products: { edges: unknown[] } }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  expect(body.data!.products.edges).toHaveLength(3);

  const [code, signal] = await exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  const shutdown = started.lines.find((l) => l.msg === 'shut down');
  expect(shutdown, 'the "shut down" log line').toBeTruthy();
  return { shutdownMs: Date.now() - signalledAt, loggedMs: shutdown!.durationMs as number };
}

/** Whether `dist/` was built after the last change to any file of `src/` (then the build is skipped). */
function distIsFresh(): boolean {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
  return walk(join(root, 'src'))
    .filter((f) => f.endsWith('.ts'))
    .every((f) => {
      const out = join(root, 'dist', relative(join(root, 'src'), f)).replace(/\.ts$/, '.js');
      return existsSync(out) && statSync(out).mtimeMs >= statSync(f).mtimeMs;
    });
}

beforeAll(() => {
  if (!distIsFresh()) execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'pipe' });
}, 180_000);

describe('SIGTERM', () => {
  it('to node dist/index.js: /ready 503 while a slow query finishes, the query answered, exit 0, no child left', async () => {
    const started = await start(process.execPath, ['dist/index.js']);
    try {
      expect(started.serverPid).toBe(started.child.pid);
      expect(childrenOf(started.child.pid!)).toEqual([]); // the emulator runs in-process
      const { shutdownMs, loggedMs } = await sigtermDuringSlowQuery(started, started.child);
      expect(shutdownMs).toBeLessThan(10_000);
      console.info(`node dist/index.js: exit ${shutdownMs} ms after SIGTERM (drain and close: ${loggedMs} ms)`);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });

  it('to npm start: npm execs node (no shell in between), passes the signal on, and both exit 0 with nothing left', async () => {
    const started = await start(npm, ['start', '--ignore-scripts']);
    const npmPid = started.child.pid!;
    try {
      expect(childrenOf(npmPid)).toEqual([started.serverPid]);
      expect(commandOf(started.serverPid)).toBe('node dist/index.js');
      const { shutdownMs } = await sigtermDuringSlowQuery(started, started.child);
      expect(alive(started.serverPid)).toBe(false);
      console.info(`npm start: exit ${shutdownMs} ms after SIGTERM`);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
      if (alive(started.serverPid)) process.kill(started.serverPid, 'SIGKILL');
    }
  });

  it('closes a request still running when SHUTDOWN_GRACE_MS is over, says so in the log, and exits 0', async () => {
    const started = await start(process.execPath, ['dist/index.js'], { SHUTDOWN_GRACE_MS: '300', EMULATOR_LATENCY_MS: '4000' });
    try {
      const exited = once(started.child, 'exit');
      const answer = fetch(`http://127.0.0.1:${started.port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: SLOW_QUERY }),
      }).then(
        () => 'answered',
        () => 'cut',
      );
      for (let i = 0; i < 100 && (await readyStatus(started.port)).body.inFlight < 1; i++) await new Promise((r) => setTimeout(r, 20));
      const signalledAt = Date.now();
      started.child.kill('SIGTERM');
      expect(await exited).toEqual([0, null]);
      const elapsed = Date.now() - signalledAt;
      expect(elapsed).toBeLessThan(3000);
      expect(await answer).toBe('cut');
      expect(started.lines.find((l) => l.cut === 1 && l.level === 40)).toBeTruthy();
      console.info(`SHUTDOWN_GRACE_MS=300 with a 4 s upstream request: exit ${elapsed} ms after SIGTERM`);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });

  it('SIGINT is handled by the same handler: exit 0', async () => {
    const started = await start(process.execPath, ['dist/index.js']);
    try {
      const exited = once(started.child, 'exit');
      started.child.kill('SIGINT');
      started.child.kill('SIGINT'); // a second signal (npm forwards the terminal's) does not cut the drain short
      expect(await exited).toEqual([0, null]);
      expect(started.lines.filter((l) => l.msg === 'shutting down: draining')).toHaveLength(1);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });
});

describe('package.json', () => {
  it('builds in prestart and execs node in start, so `npm install && npm start` works and signals reach node', () => {
    const { scripts } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.prestart).toBe('npm run build');
    expect(scripts.start).toMatch(/^exec node dist\/index\.js$/);
  });
});
