/**
 * The system under a fault or load suite: the 4D REST emulator in this process (so the suite can
 * inject faults and read its store), the subgraph as its own process started the way production
 * starts it (`src/index.ts`: configuration from the environment, `createRuntime`, `buildServer`,
 * the change watcher), and optionally a private redis-server the suite may stop and start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { freePort, PrivateRedis } from '../../test/helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Stack {
  readonly emulator: Emulator;
  readonly redis?: PrivateRedis;
  /** `http://127.0.0.1:<port>` of the subgraph. */
  readonly url: string;
  readonly pid: number;
  /** The subgraph's stderr/stdout so far (warnings and errors; LOG_LEVEL warn). */
  log(): string;
  /** RSS of the subgraph process in bytes, from /proc (0 where there is none). */
  rss(): number;
  /** A metric's value from the subgraph's /metrics (the sum of its samples). */
  metric(name: string): Promise<number>;
  close(): Promise<void>;
}

export interface StackOptions {
  emulator?: EmulatorOptions;
  /** Start a private redis-server and give the subgraph REDIS_URL. */
  redis?: boolean;
  /** Extra environment of the subgraph (CACHE_TTL_S …). */
  env?: Record<string, string>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const emulator = await startEmulator({ port: 0, ...options.emulator });
  const redis = options.redis ? new PrivateRedis(await freePort()) : undefined;
  await redis?.start();
  const port = await freePort();
  const logFile = join(tmpdir(), `wsz-suite-${process.pid}-${port}.log`);
  const out = openSync(logFile, 'w');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LEGACY_API_URL: emulator.url,
    LEGACY_API_USERNAME: 'wsz',
    LEGACY_API_PASSWORD: 'wsz',
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], { cwd: ROOT, env, stdio: ['ignore', out, out] });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the subgraph exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8')}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`the subgraph did not become ready in 60 s: ${readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    emulator,
    redis,
    url,
    pid: child.pid!,
    log: () => readFileSync(logFile, 'utf8'),
    rss() {
      try {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kb ? Number(kb) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    async metric(name) {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text
        .split('\n')
        .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    },
    async close() {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      await redis?.stop();
      await emulator.close();
    },
  };
}
