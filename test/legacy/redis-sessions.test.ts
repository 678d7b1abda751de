/**
 * Session sharing across processes through Redis: two replicas (child processes) start 50 reads
 * each at the same moment against an emulator with a licence pool of ONE. Only one of them may log
 * in; the other must wait for the shared session instead of opening its own (which would be a 402).
 *
 * Skipped with a warning when Redis does not answer, unless REQUIRE_REDIS=1 (then it fails).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createClient } from '@keyv/redis';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';
import { PASSWORD, USER } from './setup.js';

const redis = await redisForTests('the Redis session-sharing tests');
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const worker = fileURLToPath(new URL('./fixtures/redis-worker.ts', import.meta.url));

interface WorkerResult {
  ok: number;
  failed: number;
  errors: string[];
  sessionId?: string;
}

/** Spawns one replica; resolves `ready` once warmed up and `result` with its JSON line. */
function replica(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; result: Promise<WorkerResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<WorkerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(last) as WorkerResult);
      } catch (error) {
        reject(new Error(`replica failed (${(error as Error).message}); stdout: ${stdout}; stderr: ${stderr}`));
      }
    });
  });
  return { child, ready, result };
}

describe.skipIf(redis.skip)('Redis session sharing', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, sessions: 1, users: { [USER]: PASSWORD } });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('Redis is reachable (REQUIRE_REDIS)', () => {
    expect(redis.available, `Redis does not answer at ${redis.url}`).toBe(true);
  });

  it('two processes starting together share one login and never hit the licence limit', { timeout: 60_000 }, async () => {
    expect(redis.available).toBe(true);
    const namespace = uniqueNamespace('wsz-redis-sessions');
    const env = {
      EMULATOR_URL: emulator.url,
      REDIS_URL: redis.url,
      NAMESPACE: namespace,
      WSZ_USER: USER,
      WSZ_PASSWORD: PASSWORD,
      COUNT: '50',
    };
    const replicas = [replica(env), replica(env)];
    try {
      await Promise.all(replicas.map((r) => r.ready));
      emulator.resetCounters();
      for (const r of replicas) r.child.stdin.write('go\n');
      const results = await Promise.all(replicas.map((r) => r.result));

      expect(results.map((r) => r.errors)).toEqual([[], []]);
      expect(results.map((r) => r.ok)).toEqual([50, 50]);
      expect(emulator.counters.logins).toBe(1);
      expect(emulator.counters.byRoute.login).toBe(1);
      expect(emulator.counters.rejected402).toBe(0);
      expect(emulator.counters.rejected401).toBe(0);
      expect(emulator.counters.sessionsOpened).toBe(1);
      expect(emulator.counters.byTable.Kunden).toBe(100);
      expect(results[0]!.sessionId).toBeDefined();
      expect(results[0]!.sessionId).toBe(results[1]!.sessionId);

      // The shared session is in Redis under the run's namespace and a fingerprint of the
      // credentials: neither key nor value carries the password.
      const raw = createClient({ url: redis.url });
      await raw.connect();
      const keys: string[] = [];
      for await (const batch of raw.scanIterator({ MATCH: `${namespace}*session:test:*` })) keys.push(...batch);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/session:test:[0-9a-f]{32}$/);
      const value = (await raw.get(keys[0]!)) ?? '';
      expect(value).not.toContain(PASSWORD);
      expect(keys[0]).not.toContain(PASSWORD);
      await raw.del(keys);
      await raw.close();
      expect(value).toContain(results[0]!.sessionId!);
      expect(value).toContain('WASID4D');
    } finally {
      for (const r of replicas) if (r.child.exitCode === null) r.child.kill();
    }
  });
});
