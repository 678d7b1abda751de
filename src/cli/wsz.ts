#!/usr/bin/env node
/**
 * `wsz`: the command line of the old WSZ_api scripts, on the new legacy client.
 *
 *   wsz tables [--remote]                       list the tables (and their attributes)
 *   wsz fetch <table> [--where …] [--top n] [--skip n] [--all [--page-size n]] [--attributes a,b]
 *             [--order-by "Nummer desc"] [--format json|jsonl|csv] [--delimiter ";"] [--bom]
 *             [--no-formula-escape] [--iso-dates]      (see fetch.ts, output.ts)
 *   wsz push <table> <key> <field> <value>      write one field (optimistic locking)
 *   wsz session [--cookie | --logout]           show the shared session's state, or end it
 *   wsz cache purge [--tag t…] [--table T…] [--all]   drop cached rows and answers on every replica
 *   wsz --emulator …                            run against a built-in emulator in this process
 *
 * Configuration as for the server (`LEGACY_API_URL`, `WSZ_CONFIG_FILE`, `REDIS_URL`, …). Without an
 * upstream it fails (exit 2) naming the settings: it never falls back to an emulator unless asked
 * with `--emulator`. Without `REDIS_URL` the session is kept in a local file (`WSZ_SESSION_FILE`),
 * so runs one after another share one session (one licence) as the old cookie file did.
 *
 * As a program: stdout with backpressure; a reader that goes away (`| head`) ends the command with
 * exit 0 and no message; Ctrl-C stops a pull before its next page (its entity set released, exit
 * 130), a second Ctrl-C exits at once.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { LegacyAPIError } from '../legacy/errors.js';
import { TABLES } from '../legacy/tables.js';
import { createCache, PurgeInputError } from '../cache/index.js';
import { createRuntime, TYPE_TABLES, type Runtime } from '../runtime.js';
import { fetchCommand, InterruptedError } from './fetch.js';
import { parseValue, requireTable, UsageError } from './parse.js';
import { OutputClosedError, streamWriter } from './sink.js';

export { parseValue, parseWhere } from './parse.js';

/** Where the command writes; tests pass their own. */
export interface CliIO {
  /** Data (stdout); a returned promise is awaited before more is fetched (it may reject with {@link OutputClosedError}). */
  out(text: string): unknown;
  err(text: string): void;
  /** Environment variables for the configuration; default `process.env` (read by config.ts). */
  env?: Record<string, string | undefined>;
  /** Whether stderr is a terminal: then `fetch --all` shows a progress line. Default false. */
  errIsTTY?: boolean;
  /** Aborted on Ctrl-C: a pull stops before its next page and releases its entity set. */
  signal?: AbortSignal;
}

/** The version in package.json (two folders up from src/cli and from dist/cli alike). */
function packageVersion(): string {
  const json = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return json.version ?? 'unknown';
}

const EXAMPLES = `
Examples:
  $ wsz fetch Artikel_Variante --top 5 --attributes Nummer,Bezeichnung
  $ wsz fetch Kunden --all --format jsonl > kunden.jsonl
  $ wsz fetch Belege --all --where bezahlt=false --format csv --delimiter ";" --bom --iso-dates > offen.csv
  $ wsz fetch Artikel_Variante --all --format jsonl | head -n 3
  $ wsz fetch Adressen --where "Firma^=Müller" --order-by "AdrNr desc"
  $ wsz push Artikel_Variante 3F2A… Gewicht 12.5
  $ wsz session --logout
  $ wsz --emulator fetch Formen --top 2
`;

/** Runs the command line with `argv` (without `node` and the script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let runtime: Runtime | undefined;
  const getRuntime = async (): Promise<Runtime> => {
    if (runtime) return runtime;
    const useEmulator = program.opts().emulator === true;
    const config = loadConfig(io.env, {
      emulator: useEmulator ? 'always' : 'never',
      emulatorOptIn: 'run with --emulator to use a built-in emulator with generated data',
    });
    // Logs go to stderr so stdout carries only data (JSON or CSV).
    const logger = pino({ level: config.logLevel }, pino.destination(2));
    runtime = await createRuntime(config, logger, { sessionStore: 'file' });
    if (runtime.emulator) {
      const ignored = Object.keys(config.legacy.environments).length > 0 ? '; the configured 4D server is not used' : '';
      io.err(`wsz: --emulator: using a built-in 4D emulator at ${runtime.emulator.url} (generated data, writes end with this command${ignored})\n`);
    }
    return runtime;
  };

  const program = new Command('wsz')
    .description('Read and write the legacy WSZ ERP through its 4D REST server (replacement of the WSZ_api scripts)')
    .option('--env <name>', 'environment to use (default: the configured default environment)')
    .option('--emulator', 'run against a built-in 4D emulator in this process (generated data; writes end with the command)')
    .version(packageVersion(), '-V, --version', 'print the version of wsz')
    .addHelpText('after', EXAMPLES)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });

  program
    .command('tables')
    .description('list the known tables and their attributes')
    .option('--remote', "list the dataclasses the server's $catalog exposes instead")
    .action(async (options: { remote?: boolean }) => {
      if (options.remote) {
        const rt = await getRuntime();
        const names = await rt.client.listTables(program.opts().env);
        io.out(`${names.join('\n')}\n`);
        return;
      }
      for (const table of TABLES) io.out(`${table.name}\t${table.attributes.map((a) => `${a.name}:${a.type}`).join(', ')}\n`);
    });

  fetchCommand(program, io, getRuntime);

  program
    .command('push')
    .description('write one field of one record (last writer wins, like the old push_data)')
    .argument('<table>', 'table name')
    .argument('<key>', 'the record __KEY')
    .argument('<field>', 'attribute name')
    .argument('<value>', 'new value (number, true/false, YYYY-MM-DD, JSON for objects, text otherwise)')
    .action(async (tableName: string, key: string, field: string, text: string) => {
      const table = requireTable(tableName);
      const value = parseValue(table, field, text);
      const rt = await getRuntime();
      const saved = await rt.client.pushField(table.name, key, field, value, { environment: program.opts().env });
      io.out(`${JSON.stringify({ table: table.name, key, field, value: saved[field], stamp: saved.__STAMP })}\n`);
    });

  program
    .command('session')
    .description("show the shared session's state (never the cookie, unless --cookie), or end it with --logout")
    .addOption(new Option('--cookie', 'print the Cookie header value instead (keep it secret)').conflicts('logout'))
    .addOption(new Option('--logout', 'end the shared session at the 4D server and forget it (frees its licence)').conflicts('cookie'))
    .action(async (options: { cookie?: boolean; logout?: boolean }) => {
      const rt = await getRuntime();
      const environment = program.opts().env as string | undefined;
      if (options.logout) {
        // Never logs in just to log out: without a stored session there is nothing to end.
        const loggedOut = await rt.client.logout(environment);
        io.out(`${JSON.stringify({ environment: environment ?? rt.client.defaultEnvironment, loggedOut })}\n`);
        return;
      }
      if (options.cookie) {
        io.out(`${await rt.client.getSessionCookie(environment)}\n`);
        return;
      }
      await rt.client.ping(environment);
      io.out(`${JSON.stringify(await rt.client.sessionState(environment), null, 2)}\n`);
    });

  const cacheCommand = program.command('cache').description("the subgraph's shared cache (REDIS_URL)");
  cacheCommand
    .command('purge')
    .description('drop cached rows and answers by tag or table, or everything, on every replica sharing REDIS_URL')
    .option('--tag <tag...>', 'cache tags as answers list them in Cache-Tag: Artikel_Variante:<__KEY>, Artikel_Variante, or Product:<id>, Product')
    .option('--table <table...>', 'tables (or GraphQL types) to drop entirely')
    .option('--all', 'drop everything (a new cache epoch)')
    .action(async (options: { tag?: string[]; table?: string[]; all?: boolean }) => {
      // Needs no 4D server: only the shared store.
      const config = loadConfig(io.env, { emulator: 'always' });
      if (!config.redisUrl) {
        throw new UsageError(
          "REDIS_URL is not set: without it each subgraph keeps its cache in its own memory, which this command cannot reach; set REDIS_URL as the subgraph has it, or use the subgraph's purgeCache mutation",
        );
      }
      if (!options.all && !options.tag?.length && !options.table?.length) throw new UsageError('cache purge: give --tag, --table or --all');
      const logger = pino({ level: config.logLevel }, pino.destination(2));
      const cache = createCache({ settings: config.cache, redisUrl: config.redisUrl, namespace: config.storeNamespace, logger, typeTables: TYPE_TABLES });
      try {
        const result = await cache.purge({ tags: options.tag, tables: options.table, all: options.all }, 'cli');
        io.out(`${JSON.stringify(result)}\n`);
      } catch (error) {
        if (error instanceof PurgeInputError) throw new UsageError(`cache purge: ${error.message}`);
        throw error;
      } finally {
        await cache.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // The reader of stdout went away (`| head`): what was held is released; nothing to say.
    if (err instanceof OutputClosedError) return 0;
    if (err instanceof InterruptedError) {
      io.err(`wsz: ${err.message}\n`);
      return 130;
    }
    if (err instanceof CommanderError) {
      // Commander already printed usage errors; help and version exit 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof LegacyAPIError) {
      io.err(`wsz: ${err.message}\n`);
      return err instanceof LegacyAPIError && !(err.code === 'LEGACY_VALIDATION') ? 1 : 2;
    }
    io.err(`wsz: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await runtime?.close();
  }
}

// Run when executed (also through the npm `bin` symlink), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  });
  runCli(process.argv.slice(2), {
    out: streamWriter(process.stdout),
    err: (s) => process.stderr.write(s),
    errIsTTY: process.stderr.isTTY === true,
    signal: interrupt.signal,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`wsz: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
