/**
 * Standalone 4D REST emulator:
 *
 *   npm run emulator -- --port 8090 --scale 0.1 --latency 20 --jitter 5 --sessions 3 --seed 42 \
 *     --user wsz:wsz --idle 3600 --version v20 [--no-change-tracking] [--untracked Formen,Kunden] \
 *     [--deleted-records-in-catalog] [--no-control] [--no-entity-sets]
 *
 * Prints one line (URL, row counts, user names; never passwords) and runs until SIGINT/SIGTERM.
 */
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { TABLE_NAMES } from '../legacy/tables.js';
import { DEMO_SCALE } from './data/generate.js';
import { startEmulator, type Emulator, type EmulatorOptions } from './index.js';

/** Largest `--scale` accepted: 5 × production is already ~2.5 M rows in memory. */
export const MAX_SCALE = 5;

function numberOption(flag: string, rule: string, ok: (n: number) => boolean): (raw: string) => number {
  return (raw) => {
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${flag} must be ${rule}, got ${JSON.stringify(raw)}`);
    return n;
  };
}

/**
 * Splits `user:password` (the password may contain `:`). Validated after parsing rather than in a
 * commander argument parser, because commander would echo the raw value (a password) in its error.
 */
function parseUser(raw: string): [string, string] | string {
  const colon = raw.indexOf(':');
  if (colon <= 0 || colon === raw.length - 1) {
    const shown = colon > 0 ? `${raw.slice(0, colon)}:…` : colon === 0 ? ':…' : raw;
    return `--user must be user:password with both parts non-empty, got ${JSON.stringify(shown)}`;
  }
  return [raw.slice(0, colon), raw.slice(colon + 1)];
}

/** The command-line definition (exported for tests; call `.exitOverride()` there). */
export function buildProgram(): Command {
  return new Command('wsz-emulator')
    .description('4D REST server emulator with generated WSZ-DB data')
    .option('--port <n>', 'TCP port (0 = random)', numberOption('--port', 'an integer between 0 and 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65535), 8090)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--scale <n>', `data size, 1 = production sizes (0 < n ≤ ${MAX_SCALE})`, numberOption('--scale', `a number > 0 and ≤ ${MAX_SCALE}`, (n) => n > 0 && n <= MAX_SCALE), DEMO_SCALE)
    .option('--seed <n>', 'random seed of the generated data', numberOption('--seed', 'an integer', Number.isInteger), 42)
    .option('--latency <ms>', 'base latency per answer', numberOption('--latency', 'a number ≥ 0', (n) => n >= 0), 0)
    .option('--jitter <ms>', 'uniform jitter ± ms around the latency', numberOption('--jitter', 'a number ≥ 0', (n) => n >= 0), 0)
    .option('--sessions <n>', 'licence pool: authenticated sessions at once', numberOption('--sessions', 'an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0), 10)
    .option('--user <user:password>', 'accepted credentials (repeatable; default wsz:wsz)', (raw: string, prev: string[] = []) => [...prev, raw])
    .option('--idle <seconds>', 'session inactivity expiry', numberOption('--idle', 'a number > 0', (n) => n > 0), 3600)
    .addOption(new Option('--version <v>', 'emulated 4D version').choices(['v18', 'v20', 'v21']).default('v20'))
    .addOption(new Option('--licence-mode <mode>', 'who takes a licence: every session, guests included (legacy sessions, as the WSZ server), or only logged-in sessions').choices(['every-session', 'force-login']).default('every-session'))
    .addOption(new Option('--auth <mode>', 'whether data requests need an authenticated session').choices(['required', 'none']).default('required'))
    .option('--app-name <name>', 'application name (cookie 4DSID_<name>)', 'WSZ-DB')
    .option('--max-top <n>', 'cap on $top/$limit (default: none)', numberOption('--max-top', 'an integer ≥ 1', (n) => Number.isInteger(n) && n >= 1))
    .option('--log', 'log one JSON line per request (never cookies or passwords)', false)
    .option('--change-tracking', '4D data change tracking: __GlobalStamp, __DeletedRecords (default)', true)
    .option('--no-change-tracking', 'no data change tracking: envelope stamp 0, no __GlobalStamp, no __DeletedRecords')
    .option('--untracked <tables>', 'comma-separated tables without change tracking (repeatable)', (raw: string, prev: string[] = []) => [...prev, ...raw.split(',').map((t) => t.trim()).filter((t) => t !== '')])
    .option('--deleted-records-in-catalog', 'list __DeletedRecords in $catalog', false)
    .option('--control', 'serve the control endpoint /__control/… (default; no authentication: tests and demos only)', true)
    .option('--no-control', 'do not serve the control endpoint')
    .option('--entity-sets', 'serve entity sets ($method=entityset; default)', true)
    .option('--no-entity-sets', 'refuse $method=entityset (500, errCode 1813), as a server that does not offer them');
}

interface CliValues {
  port: number;
  host: string;
  scale: number;
  seed: number;
  latency: number;
  jitter: number;
  sessions: number;
  user?: string[];
  idle: number;
  version: 'v18' | 'v20' | 'v21';
  auth: 'required' | 'none';
  licenceMode: 'every-session' | 'force-login';
  appName: string;
  maxTop?: number;
  log: boolean;
  changeTracking: boolean;
  untracked?: string[];
  deletedRecordsInCatalog: boolean;
  control: boolean;
  entitySets: boolean;
}

/** Parses command-line arguments (without `node` and the script) into emulator options. */
export function parseCliArgs(argv: readonly string[], program: Command = buildProgram()): EmulatorOptions {
  program.parse([...argv], { from: 'user' });
  const v = program.opts<CliValues>();
  if (!/^[A-Za-z0-9_.-]+$/.test(v.appName)) {
    program.error(`error: --app-name must contain only letters, digits, '_', '.' or '-', got ${JSON.stringify(v.appName)}`);
  }
  for (const table of v.untracked ?? []) {
    if (!TABLE_NAMES.includes(table)) program.error(`error: --untracked must name tables (${TABLE_NAMES.join(', ')}), got ${JSON.stringify(table)}`);
  }
  let users: Record<string, string> | undefined;
  for (const raw of v.user ?? []) {
    const parsed = parseUser(raw);
    if (typeof parsed === 'string') program.error(`error: ${parsed}`);
    users = { ...users, [parsed[0]]: parsed[1] };
  }
  return {
    port: v.port,
    host: v.host,
    scale: v.scale,
    seed: v.seed,
    latencyMs: v.latency,
    jitterMs: v.jitter,
    sessions: v.sessions,
    users: users ?? { wsz: 'wsz' },
    sessionIdleSeconds: v.idle,
    version: v.version,
    auth: v.auth,
    licenceMode: v.licenceMode,
    appName: v.appName,
    maxTop: v.maxTop,
    logger: v.log ? pino({ base: undefined }) : undefined,
    changeTracking: v.changeTracking,
    untrackedTables: v.untracked ?? [],
    deletedRecordsInCatalog: v.deletedRecordsInCatalog,
    control: v.control,
    entitySets: v.entitySets,
  };
}

/** The start-up line: URL, row counts and user names (never passwords). */
export function startupLine(emulator: Emulator, options: EmulatorOptions): string {
  const rows = emulator.db.tableNames().map((n) => `${n}=${emulator.db.table(n)?.size ?? 0}`).join(' ');
  const users = Object.keys(options.users ?? { wsz: '' }).join(',');
  return (
    `4D REST emulator (${options.version ?? 'v20'}, ${options.appName ?? 'WSZ-DB'}) listening on ${emulator.url}/rest/ | ` +
    `rows: ${rows} | users: ${users} | licences: ${options.sessions ?? 10} (${options.licenceMode ?? 'every-session'}) | auth: ${options.auth ?? 'required'} | ` +
    `change tracking: ${trackingSummary(emulator, options)} | control: ${(options.control ?? true) ? `${emulator.url}/__control/` : 'off'}`
  );
}

function trackingSummary(emulator: Emulator, options: EmulatorOptions): string {
  if (!emulator.db.changeTracking) return 'off';
  const untracked = options.untrackedTables ?? [];
  return `on, global stamp ${emulator.globalStamp()}${untracked.length > 0 ? `, untracked: ${untracked.join(',')}` : ''}`;
}

async function main(): Promise<void> {
  const options = parseCliArgs(process.argv.slice(2));
  const emulator = await startEmulator(options);
  console.log(startupLine(emulator, options));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => {
        console.log(`emulator stopped (${signal})`);
        process.exit(0);
      },
      (e: unknown) => {
        console.error(`emulator failed to stop cleanly: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(`emulator failed to start: ${(e as Error).message}`);
    process.exit(1);
  });
}
