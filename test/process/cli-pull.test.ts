/**
 * Issue 9 item 7: `wsz fetch --all` as a program on the emulator: `| head -n 3` ends it quietly
 * (exit 0, stderr clean, entity set released, no further pages), Ctrl-C releases the set too
 * (exit 130), a real pseudo-terminal gets the progress line, and a whole pull costs one login.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

const cli = fileURLToPath(new URL('../../src/cli/wsz.ts', import.meta.url));
const run = promisify(execFile);

let emulator: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  // Artikel_Variante: 1000 rows; pages of 10 make a pull of 100 pages.
  emulator = await startEmulator({ port: 0, scale: 0.1 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsz-cli-pull-'));
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (/^(LEGACY_|REDIS_URL|STORE_NAMESPACE|WSZ_|EMULATOR_)/.test(key)) delete base[key];
  env = { ...base, LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent', WSZ_SESSION_FILE: join(dir, 'sessions.json') };
  emulator.expireAllSessions();
  emulator.resetCounters();
  emulator.setLatency(0);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const total = () => emulator.db.table('Artikel_Variante')!.rows().length;
const pull = ['fetch', 'Artikel_Variante', '--all', '--page-size', '10', '--format', 'jsonl', '--attributes', 'Nummer'];
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const command = `${quote(process.execPath)} --import tsx ${quote(cli)} ${pull.map(quote).join(' ')}`;

describe('wsz fetch --all as a program', () => {
  it('ends quietly under | head -n 3: exit 0, nothing on stderr, the entity set released, no more pages', async () => {
    emulator.setLatency(20); // pages keep coming while head exits
    const { stdout, stderr } = await run('bash', ['-c', `${command} 2>"$ERR_FILE" | head -n 3; echo "exit=\${PIPESTATUS[0]}"`], {
      env: { ...env, ERR_FILE: join(dir, 'stderr') },
      timeout: 60_000,
    });
    const out = stdout.trim().split('\n');
    expect(out.slice(0, 3).map((l) => Object.keys(JSON.parse(l) as object))).toEqual([0, 1, 2].map(() => ['__KEY', '__TIMESTAMP', '__STAMP', 'Nummer']));
    expect(out[3]).toBe('exit=0');
    expect(stderr).toBe('');
    expect(readFileSync(join(dir, 'stderr'), 'utf8')).toBe('');
    expect(emulator.liveEntitySets()).toBe(0);
    expect(emulator.requestLog.at(-1)!.path).toMatch(/\$method=release$/);
    // It stopped: far fewer than the 100 pages (+ release) of the whole pull.
    expect(emulator.counters.byTable.Artikel_Variante).toBeLessThan(10);
    expect(emulator.counters.logins).toBe(1);
  });

  it('ends a short command quietly under | head -n 1 too', async () => {
    const tables = `${quote(process.execPath)} --import tsx ${quote(cli)} tables`;
    const { stdout, stderr } = await run('bash', ['-c', `${tables} | head -n 1; echo "exit=\${PIPESTATUS[0]}"`], { env, timeout: 60_000 });
    expect(stdout.split('\n').slice(0, 2)).toEqual([expect.stringMatching(/^Artikel_Familie\t/), 'exit=0']);
    expect(stderr).toBe('');
  });

  it('pulls every row with exactly one login', async () => {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, ...pull], { env, timeout: 60_000, maxBuffer: 1 << 26 });
    expect(stderr).toBe('');
    const keys = stdout.trim().split('\n').map((l) => (JSON.parse(l) as { __KEY: string }).__KEY);
    expect(new Set(keys).size).toBe(total());
    expect(keys).toHaveLength(total());
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.counters.byTable.Artikel_Variante).toBe(total() / 10 + 1);
    expect(emulator.liveEntitySets()).toBe(0);
  });

  it('stops on Ctrl-C before the next page, releases the entity set and exits 130', async () => {
    emulator.setLatency(30);
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...pull], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await once(createInterface({ input: child.stdout }), 'line');
    expect(emulator.liveEntitySets()).toBe(1);
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(130);
    expect(stderr).toMatch(/^wsz: interrupted after \d+ rows; the entity set was released\n$/);
    expect(emulator.liveEntitySets()).toBe(0);
    expect(emulator.requestLog.at(-1)!.path).toMatch(/\$method=release$/);
    expect(emulator.counters.byTable.Artikel_Variante).toBeLessThan(20);
  });

  it('shows the progress line on a pseudo-terminal', async () => {
    // script(1) gives the child a terminal; its stdout goes to a file, so only stderr reaches the terminal.
    const file = join(dir, 'rows.jsonl');
    const { stdout } = await run('script', ['-qec', `${command} > ${quote(file)}`, '/dev/null'], { env, timeout: 60_000 });
    expect(stdout).toContain(`\r\x1b[2Kwsz: 10 / ${total()} rows`);
    expect(stdout).toContain(`\r\x1b[2Kwsz: ${total()} / ${total()} rows`);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(total());
  });
});
