/**
 * Redis availability for tests that need a real Redis (session sharing across processes).
 *
 * `REDIS_URL` (default `redis://127.0.0.1:6379`) is probed with a PING and a short timeout. When it
 * does not answer, the tests are skipped with a visible warning — unless `REQUIRE_REDIS=1`, in which
 * case they fail (for CI, where Redis must be there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createClient } from '@keyv/redis';

/** The Redis URL tests use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether a missing Redis must fail the tests (`REQUIRE_REDIS=1`). */
export const REDIS_REQUIRED = process.env.REQUIRE_REDIS === '1' || process.env.REQUIRE_REDIS === 'true';

/** Resolves `true` when Redis answers PING at `url` within `timeoutMs`. Never rejects. */
export async function redisAnswers(url = REDIS_URL, timeoutMs = 1000): Promise<boolean> {
  const client = createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    });
    await Promise.race([client.connect(), timeout]);
    const pong = await Promise.race([client.ping(), timeout]);
    return pong === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      if (client.isOpen) await client.close();
      else client.destroy();
    } catch {
      // already closed
    }
  }
}

/**
 * Probes Redis once for a test file. Returns `{ available, skip }`: `skip` is true (with a
 * `console.warn` notice) when Redis is missing and not required; when it is missing and required,
 * `available` is false and `skip` false, so the tests run and fail on an explicit assertion.
 */
export async function redisForTests(what: string): Promise<{ available: boolean; skip: boolean; url: string }> {
  const available = await redisAnswers();
  if (!available && !REDIS_REQUIRED) {
    console.warn(`⚠ Redis does not answer at ${REDIS_URL}: skipping ${what}. Set REQUIRE_REDIS=1 to make this a failure.`);
  }
  return { available, skip: !available && !REDIS_REQUIRED, url: REDIS_URL };
}

/** A namespace unique to this test run, so parallel runs and leftovers never collide. */
export function uniqueNamespace(prefix = 'wsz-test'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on (just now). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A private redis-server (nothing on disk) that the test may stop and start again. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  /** `password`: started with `--requirepass` (then {@link url} carries it). */
  constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}
  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(this.password ? ['--requirepass', this.password] : [])], {
      stdio: 'ignore',
    });
    const until = Date.now() + 5000;
    while (!(await redisAnswers(this.url, 200))) {
      if (Date.now() > until) throw new Error(`private redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers, nothing is lost. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }
  /** Lets a paused server go on (SIGCONT), with all its data. */
  resume(): void {
    this.child?.kill('SIGCONT');
  }
  async stop(): Promise<void> {
    const child = this.child;
    child?.kill('SIGCONT');
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
