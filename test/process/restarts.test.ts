/**
 * Issue 6 §3: a subgraph whose session lives only in its own memory (no REDIS_URL) logs it out at
 * shutdown, so restarts never fill the ERP's licence pool. The pool here is 2: without the logout,
 * the third start would find no licence (402).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createRuntime } from '../../src/runtime.js';

const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, sessions: 2 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.expireAllSessions();
  emulator.resetCounters();
});

function upstreamEnv(): Record<string, string> {
  return { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent' };
}

describe('restarts without Redis on a licence pool of 2', () => {
  it('three runtimes one after another each log out at close, so all three work', async () => {
    for (let start = 1; start <= 3; start++) {
      const runtime = await createRuntime(loadConfig(upstreamEnv()), pino({ level: 'silent' }));
      expect(runtime.sessionStore).toBe('memory');
      const { rows } = await runtime.client.fetchTable('Formen', { top: 1 });
      expect(rows).toHaveLength(1);
      expect(emulator.activeSessions()).toBe(1);
      await runtime.close();
      expect(emulator.activeSessions()).toBe(0);
    }
    expect(emulator.counters.logins).toBe(3);
    expect(emulator.counters.rejected402).toBe(0);
  });

  it('three subgraph processes started and stopped (SIGTERM) one after another all answer', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (/^(LEGACY_|REDIS_URL|WSZ_|EMULATOR_)/.test(key)) delete env[key];
    Object.assign(env, upstreamEnv(), { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    for (let start = 1; start <= 3; start++) {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        let port: number | undefined;
        for await (const line of createInterface({ input: child.stdout })) {
          const parsed = JSON.parse(line) as { msg: string; port?: number };
          if (parsed.msg.startsWith('subgraph ready')) {
            port = parsed.port;
            break;
          }
        }
        expect(port, `start ${start} did not get ready`).toBeGreaterThan(0);
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ molds(first: 1) { totalCount } }' }),
        });
        const body = (await response.json()) as { data?: { molds: { totalCount: number } }; errors?: unknown[] };
        expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
        expect(body.data!.molds.totalCount).toBeGreaterThan(0);
        expect(emulator.activeSessions()).toBe(1);
        child.kill('SIGTERM');
        const [code] = await once(child, 'exit');
        expect(code).toBe(0);
        expect(emulator.activeSessions()).toBe(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    expect(emulator.counters.rejected402).toBe(0);
  }, 60_000);
});
