import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, PrivateRedis } from '../helpers/redis.js';

const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

/** Environment without any upstream or Redis setting, as on a newcomer's machine. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (/^(LEGACY_|REDIS_URL|WSZ_CONFIG_FILE|EMULATOR_)/.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

describe('start-up', () => {
  it('starts on the built-in emulator with no configuration, says so first, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: cleanEnv({ PORT: '0', HOST: '127.0.0.1' }) });
    try {
      const lines: Array<{ msg: string; emulator?: string; port?: number }> = [];
      const reader = createInterface({ input: child.stdout });
      for await (const line of reader) {
        lines.push(JSON.parse(line));
        if (lines.at(-1)!.msg.startsWith('subgraph ready')) break;
      }
      expect(lines[0].msg).toMatch(/^using the built-in 4D REST emulator at http:\/\/127\.0\.0\.1:\d+ \(no LEGACY_API_URL configured\)$/);
      expect(lines[0].emulator).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const port = lines.at(-1)!.port!;
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', ready: true, upstream: { environment: 'emulator' } });
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('waits for a configured Redis that does not answer: /ready and GraphQL answer 503 naming REDIS_URL, then it serves', async () => {
    const redis = new PrivateRedis(await freePort(), 'secret');
    const url = redis.url;
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: cleanEnv({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: url }) });
    try {
      let output = '';
      const lines: Array<{ msg: string; port?: number }> = [];
      const reader = createInterface({ input: child.stdout });
      for await (const line of reader) {
        output += `${line}\n`;
        lines.push(JSON.parse(line));
        if (lines.at(-1)!.msg.startsWith('subgraph ready')) break;
      }
      const port = lines.at(-1)!.port!;
      expect(output).toContain(`REDIS_URL: Redis at redis://(credentials hidden)@127.0.0.1:${redis.port} does not answer`);
      const waiting = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(waiting.status).toBe(503);
      const body = (await waiting.json()) as { status: string; waitingFor: string[] };
      expect(body.status).toBe('starting');
      expect(body.waitingFor.join(' ')).toContain('REDIS_URL');
      expect(JSON.stringify(body)).not.toContain('secret');
      const query = { query: '{ productFamilies(first: 1) { totalCount } }' };
      const refused = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
      expect(refused.status).toBe(503);
      expect(await refused.text()).toContain('SERVICE_UNAVAILABLE');

      await redis.start();
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ready = (await fetch(`http://127.0.0.1:${port}/ready`)).status;
      }
      expect(ready).toBe(200);
      const served = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
      expect(served.status).toBe(200);
      expect(((await served.json()) as { data: { productFamilies: { totalCount: number } } }).data.productFamilies.totalCount).toBeGreaterThan(0);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('refuses to start on a malformed setting, naming it and its value', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: cleanEnv({ PORT: 'eighty' }) });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration: PORT must be an integer from 0 to 65535, got "eighty"');
  });
});
