import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

let emulator: Emulator;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  // The session file of these runs: never the user's own cache directory.
  dir = mkdtempSync(join(tmpdir(), 'wsz-cli-'));
  env = { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent', WSZ_SESSION_FILE: join(dir, 'sessions.json') };
});
afterAll(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => emulator.resetCounters());

async function wsz(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), env });
  return { code, out, err };
}

describe('wsz command line', () => {
  it('lists the known tables with their attributes', async () => {
    const { code, out } = await wsz('tables');
    expect(code).toBe(0);
    expect(out).toContain('Artikel_Variante\tNummer:string');
    expect(out.trim().split('\n')).toHaveLength(10);
  });

  it("lists the server's dataclasses with --remote", async () => {
    const { code, out } = await wsz('tables', '--remote');
    expect(code).toBe(0);
    expect(out.split('\n')).toContain('Belege_Pos');
  });

  it('fetches a page as JSON', async () => {
    const { code, out } = await wsz('fetch', 'Artikel_Variante', '--top', '3', '--skip', '1', '--attributes', 'Nummer,Bezeichnung');
    expect(code).toBe(0);
    const rows = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0])).toEqual(expect.arrayContaining(['__KEY', 'Nummer', 'Bezeichnung']));
    expect(rows[0]).not.toHaveProperty('Preise');
  });

  it('fetches every matching row with --all and --where, as CSV', async () => {
    const expected = emulator.db.table('Kunden')!.rows().filter((r) => r.Liefersperre === false);
    const { code, out } = await wsz('fetch', 'Kunden', '--all', '--where', 'Liefersperre=false', '--attributes', 'KundenNr,Liefersperre', '--format', 'csv');
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toContain('KundenNr');
    expect(lines).toHaveLength(expected.length + 1);
  });

  it('matches text with hostile characters exactly', async () => {
    const row = emulator.db.table('Artikel_Variante')!.rows().find((r) => /['"@#&%]/.test(String(r.Bezeichnung)));
    expect(row).toBeDefined();
    const { code, out } = await wsz('fetch', 'Artikel_Variante', '--where', `Bezeichnung=${row!.Bezeichnung}`, '--attributes', 'Bezeichnung');
    expect(code).toBe(0);
    const rows = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(String(r.Bezeichnung).toLowerCase()).toBe(String(row!.Bezeichnung).toLowerCase());
  });

  it('pushes one field and prints the new stamp', async () => {
    const row = emulator.db.table('Artikel_Variante')!.rows()[5];
    const { code, out } = await wsz('push', 'Artikel_Variante', row.__KEY, 'Gewicht', '123.5');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ table: 'Artikel_Variante', key: row.__KEY, field: 'Gewicht', value: 123.5, stamp: row.__STAMP + 1 });
    expect(emulator.db.table('Artikel_Variante')!.get(row.__KEY)!.Gewicht).toBe(123.5);
  });

  it('shows the session state without the cookie', async () => {
    const { code, out } = await wsz('session');
    expect(code).toBe(0);
    expect(out).toContain('"hasSession": true');
    expect(out).not.toMatch(/WASID4D|4DSID/);
  });

  it.each([
    [['fetch', 'Artikel'], /unknown table "Artikel"; known tables: Artikel_Familie/],
    [['fetch', 'Kunden', '--where', 'Kundennummer=1'], /table Kunden has no attribute "Kundennummer"; attributes: KundenNr/],
    [['fetch', 'Kunden', '--where', 'Kreditlimit>=viel'], /Kreditlimit is a number, got "viel"/],
    [['fetch', 'Kunden', '--top', '0'], /--top must be an integer ≥ 1, got "0"/],
    [['push', 'Kunden', 'X', 'Liefersperre', 'ja'], /Liefersperre is true or false, got "ja"/],
  ])('rejects bad input %j with exit code 2 and a message naming it', async (argv, message) => {
    const { code, err } = await wsz(...argv);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(emulator.counters.requests).toBe(0);
  });

  it('fails with exit code 2 on a malformed setting, naming it', async () => {
    let err = '';
    const code = await runCli(['tables', '--remote'], { out: () => {}, err: (s) => (err += s), env: { ...env, LEGACY_API_URL: 'not a url' } });
    expect(code).toBe(2);
    expect(err).toContain('LEGACY_API_URL');
  });

  it('runs as a program (the npm bin entry) and exits 0', async () => {
    // Asynchronously: the emulator answering it lives in this process.
    const script = fileURLToPath(new URL('../../src/cli/wsz.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'fetch', 'Formen', '--top', '2'], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toHaveLength(2);
  });

  it('exits 2 with a message when run as a program with bad input', async () => {
    const script = fileURLToPath(new URL('../../src/cli/wsz.ts', import.meta.url));
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'fetch', 'Nope'], { env: { ...process.env, ...env }, timeout: 30_000 });
    await expect(run).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('unknown table "Nope"') });
  });
});
