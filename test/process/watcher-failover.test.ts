/**
 * Issue 8: one change watcher per deployment, and when its leader dies (SIGKILL: no stop, no lease
 * given up) another replica takes over once the lease lapses, missing no change made meanwhile.
 * Two real subgraph processes share Redis; the emulator is the ERP, changed behind their backs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const redis = await redisForTests('the change watcher failover test');
const POLL_MS = 250;
const LEASE_MS = 1500;
const PRODUCT = `query ($id: ID!) { product(id: $id) { id name } }`;

interface Replica {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startReplica(env: NodeJS.ProcessEnv): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as { msg?: string; port?: number };
      if (parsed.msg?.startsWith('subgraph ready') && parsed.port) resolve(parsed.port);
    });
    child.once('exit', (code) => reject(new Error(`the subgraph exited with ${code} before it was ready`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, exited };
}

async function leads(replica: Replica): Promise<boolean> {
  const response = await fetch(`${replica.url}/ready`);
  const body = (await response.json()) as { changes?: { leader?: boolean } };
  return body.changes?.leader === true;
}

async function productName(replica: Replica, id: string): Promise<string> {
  const response = await fetch(`${replica.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: PRODUCT, variables: { id } }),
  });
  const body = (await response.json()) as { data: { product: { name: string } } };
  return body.data.product.name;
}

/** Checks `condition` every 25 ms until it holds; fails naming `what` after `ms`. */
async function until(what: string, condition: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(redis.skip)('change watcher failover between processes', () => {
  let emulator: Emulator;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
  });
  afterAll(async () => {
    for (const r of replicas) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await emulator.close();
  });

  it('a killed leader is replaced once its lease lapses, and the change made meanwhile is served', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (/^(LEGACY_|REDIS_URL|WSZ_|EMULATOR_|CACHE|CHANGE_|STORE_)/.test(key)) delete env[key];
    Object.assign(env, {
      LEGACY_API_URL: emulator.url,
      LEGACY_API_USERNAME: 'wsz',
      LEGACY_API_PASSWORD: 'wsz',
      REDIS_URL: redis.url,
      STORE_NAMESPACE: uniqueNamespace('wsz-failover'),
      CHANGE_POLL_MS: String(POLL_MS),
      CHANGE_LEASE_MS: String(LEASE_MS),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    replicas.push(await startReplica(env), await startReplica(env));
    await until('one replica leads', async () => (await Promise.all(replicas.map(leads))).filter(Boolean).length === 1);
    const leaderIndex = (await leads(replicas[0]!)) ? 0 : 1;
    const [leader, survivor] = [replicas[leaderIndex]!, replicas[1 - leaderIndex]!];

    const id = String(emulator.db.table('Artikel_Variante')!.rows()[0]!.__KEY);
    const before = await productName(survivor, id);
    expect(await productName(survivor, id)).toBe(before); // cached now

    leader.child.kill('SIGKILL');
    await leader.exited;
    const killedAt = Date.now();
    emulator.desktop.update('Artikel_Variante', id, { Bezeichnung: 'Nach dem Tod des Leaders' });

    await until('the survivor leads', () => leads(survivor));
    const takeoverMs = Date.now() - killedAt;
    // The dead leader's lease held: it was renewed at most one poll before the kill.
    expect(takeoverMs).toBeGreaterThanOrEqual(LEASE_MS - POLL_MS - 100);
    await until('the survivor serves the change', async () => (await productName(survivor, id)) === 'Nach dem Tod des Leaders');

    // Both processes shared one ERP session throughout: the kill wasted no licence.
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
    console.info(`change watcher failover: the survivor took over ${takeoverMs} ms after the kill (lease ${LEASE_MS} ms, poll ${POLL_MS} ms)`);
  }, 60_000);
});
