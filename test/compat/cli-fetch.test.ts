/**
 * Issue 9 item 7: `wsz fetch` output, in process on the emulator: pages written before the next one
 * is asked for, the progress line on a terminal, CSV for German spreadsheets, ISO dates, the notice
 * that more rows exist, `--version` and `--help`, and ordered paging where entity sets are refused.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliIO } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

let emulator: Emulator;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'wsz-cli-fetch-'));
  env = { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent', WSZ_SESSION_FILE: join(dir, 'sessions.json') };
});
afterAll(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => emulator.resetCounters());

async function wsz(argv: string[], extra: Partial<CliIO> = {}, target = emulator): Promise<{ code: number; out: string; err: string; chunks: string[] }> {
  const chunks: string[] = [];
  let err = '';
  const runEnv = { ...env, LEGACY_API_URL: target.url };
  const code = await runCli(argv, { out: (s) => chunks.push(s), err: (s) => (err += s), env: runEnv, ...extra });
  return { code, out: chunks.join(''), err, chunks };
}

const rows = (table: string) => emulator.db.table(table)!.rows();
const lines = (text: string) => text.split('\n').filter(Boolean);

describe('wsz fetch --all streams page by page', () => {
  it('writes each page before the next one is requested, then releases the entity set', async () => {
    const total = rows('Artikel_Variante').length;
    const requestsAtWrite: number[] = [];
    const written: string[] = [];
    const { code } = await wsz(['fetch', 'Artikel_Variante', '--all', '--page-size', '20', '--format', 'jsonl', '--attributes', 'Nummer'], {
      out: (s) => {
        written.push(s);
        requestsAtWrite.push(emulator.counters.byTable.Artikel_Variante!);
      },
    });
    expect(code).toBe(0);
    const pages = Math.ceil(total / 20);
    const data = written.filter(Boolean);
    expect(data).toHaveLength(pages);
    for (const [i, chunk] of data.entries()) expect(lines(chunk)).toHaveLength(Math.min(20, total - i * 20));
    // Page i went out after i + 1 requests: the creation and i pages of the set, none ahead.
    expect(requestsAtWrite.filter((_, i) => written[i] !== '').slice(0, pages)).toEqual(Array.from({ length: pages }, (_, i) => i + 1));
    expect(emulator.counters.byTable.Artikel_Variante).toBe(pages + 1);
    expect(emulator.liveEntitySets()).toBe(0);
    const keys = data.flatMap(lines).map((l) => (JSON.parse(l) as { __KEY: string }).__KEY);
    expect(new Set(keys).size).toBe(total);
  });

  it('keeps --format json one JSON array, as before', async () => {
    const { code, out } = await wsz(['fetch', 'Kunden', '--all', '--page-size', '33']);
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as Array<{ KundenNr: string }>;
    expect(parsed.map((r) => r.KundenNr)).toEqual(rows('Kunden').map((r) => String(r.KundenNr)).sort());
    expect(out).toBe(`${JSON.stringify(parsed, null, 2)}\n`);
  });

  it('shows rows so far / total on stderr when it is a terminal, and nothing otherwise', async () => {
    const total = rows('Formen').length;
    const tty = await wsz(['fetch', 'Formen', '--all', '--page-size', '4', '--format', 'jsonl'], { errIsTTY: true });
    expect(tty.code).toBe(0);
    const updates = tty.err.split('\r\x1b[2K').filter(Boolean);
    expect(updates[0]).toBe(`wsz: 4 / ${total} rows`);
    expect(updates.at(-1)).toBe(`wsz: ${total} / ${total} rows\n`);
    expect(updates).toHaveLength(Math.ceil(total / 4));
    const piped = await wsz(['fetch', 'Formen', '--all', '--page-size', '4', '--format', 'jsonl']);
    expect(piped.err).toBe('');
  });

  it('is paged by $orderby with __KEY where the server refuses entity sets', async () => {
    const refusing = await startEmulator({ port: 0, entitySets: false });
    try {
      const expected = refusing.db.table('Belege')!.rows().map((r) => r.AbsNr as number).sort((a, b) => a - b);
      const { code, out } = await wsz(['fetch', 'Belege', '--all', '--page-size', '50', '--format', 'jsonl', '--attributes', 'AbsNr'], {}, refusing);
      expect(code).toBe(0);
      expect(lines(out).map((l) => (JSON.parse(l) as { AbsNr: number }).AbsNr)).toEqual(expected);
      expect(refusing.requestLog.filter((e) => decodeURIComponent(e.path).includes(',__KEY asc')).length).toBe(Math.ceil(expected.length / 50));
    } finally {
      await refusing.close();
    }
  });
});

describe('wsz fetch CSV for spreadsheets', () => {
  it('uses the delimiter, a byte order mark, and escapes formulas in text cells (not numbers)', async () => {
    const kunde = rows('Kunden')[3]!;
    emulator.desktop.update('Kunden', kunde.__KEY, { Versandart: '=HYPERLINK("http://x";"y")', Zahlungsart: '@SUM(A1)', Preisgru: '-1+2', Kreditlimit: -5 });
    const argv = ['fetch', 'Kunden', '--where', `KundenNr=${kunde.KundenNr}`, '--attributes', 'KundenNr,Versandart,Zahlungsart,Preisgru,Kreditlimit', '--format', 'csv', '--delimiter', ';'];
    const escaped = await wsz([...argv, '--bom']);
    expect(escaped.code).toBe(0);
    expect(escaped.out.startsWith('\ufeff__KEY;__TIMESTAMP;__STAMP;KundenNr;Versandart;Zahlungsart;Preisgru;Kreditlimit')).toBe(true);
    const row = lines(escaped.out)[1]!;
    expect(row).toContain(`;"'=HYPERLINK(""http://x"";""y"")";'@SUM(A1);'-1+2;-5`);
    const plain = await wsz([...argv, '--no-formula-escape']);
    expect(plain.out.startsWith('\ufeff')).toBe(false);
    expect(lines(plain.out)[1]).toContain(`;"=HYPERLINK(""http://x"";""y"")";@SUM(A1);-1+2;-5`);
  });

  it('writes 4D dates as ISO dates with --iso-dates (an empty date as an empty cell), else as 4D sends them', async () => {
    const [first, second] = [...rows('Belege')].sort((a, b) => (a.AbsNr as number) - (b.AbsNr as number));
    emulator.desktop.update('Belege', second!.__KEY, { Datum: null });
    emulator.desktop.update('Belege', first!.__KEY, { Datum: '24!12!2023' });
    const argv = ['fetch', 'Belege', '--top', '2', '--attributes', 'AbsNr,Datum', '--format', 'csv'];
    const raw = await wsz(argv);
    expect(lines(raw.out).map((l) => l.split(',').slice(3))).toEqual([['AbsNr', 'Datum'], [String(first!.AbsNr), '24!12!2023'], [String(second!.AbsNr), '']]);
    const iso = await wsz([...argv, '--iso-dates']);
    expect(lines(iso.out)[1]!.split(',').slice(3)).toEqual([String(first!.AbsNr), '2023-12-24']);
    const json = await wsz(['fetch', 'Belege', '--top', '1', '--attributes', 'Datum', '--format', 'jsonl', '--iso-dates']);
    expect(JSON.parse(json.out)).toMatchObject({ Datum: '2023-12-24' });
  });

  it('writes the header of an empty result', async () => {
    const { code, out } = await wsz(['fetch', 'Kunden', '--all', '--where', 'KundenNr=nobody', '--attributes', 'KundenNr,Versandart', '--format', 'csv', '--delimiter', 'tab']);
    expect(code).toBe(0);
    expect(out).toBe('__KEY\t__TIMESTAMP\t__STAMP\tKundenNr\tVersandart\n');
  });

  it('refuses a delimiter that is not one character, before any request', async () => {
    const { code, err } = await wsz(['fetch', 'Kunden', '--format', 'csv', '--delimiter', ';;']);
    expect(code).toBe(2);
    expect(err).toContain('--delimiter is one character');
    expect(emulator.counters.requests).toBe(0);
  });
});

describe('wsz fetch without --top or --all', () => {
  it('says on stderr that more rows exist than were printed', async () => {
    const total = rows('Belege').length;
    expect(total).toBeGreaterThan(110);
    const { code, out, err } = await wsz(['fetch', 'Belege', '--skip', '10', '--format', 'jsonl']);
    expect(code).toBe(0);
    expect(lines(out)).toHaveLength(100);
    expect(err).toBe(`wsz: printed 100 of ${total} rows (from row 11); ${total - 110} more exist: use --all for every row, or --top/--skip for another page\n`);
  });

  it('says nothing with --top, with --all, or when every row was printed', async () => {
    expect((await wsz(['fetch', 'Artikel_Variante', '--top', '5'])).err).toBe('');
    expect((await wsz(['fetch', 'Formen', '--all'])).err).toBe('');
    expect((await wsz(['fetch', 'Formen'])).err).toBe('');
  });
});

describe('wsz --version and --help', () => {
  it('prints the version of package.json and examples', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const version = await wsz(['--version']);
    expect(version).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    const help = await wsz(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Examples:');
    expect(help.out).toContain('--format jsonl | head -n 3');
    const fetchHelp = await wsz(['fetch', '--help']);
    for (const option of ['--delimiter', '--bom', '--no-formula-escape', '--iso-dates', '--page-size']) expect(fetchHelp.out).toContain(option);
  });
});
