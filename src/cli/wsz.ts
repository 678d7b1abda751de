#!/usr/bin/env node
/**
 * `wsz`: the command line of the old WSZ_api scripts, on the new legacy client.
 *
 *   wsz tables [--remote]                       list the tables (and their attributes)
 *   wsz fetch <table> [--where …] [--top n] [--skip n] [--all] [--attributes a,b]
 *             [--order-by "Nummer desc"] [--format json|csv]
 *   wsz push <table> <key> <field> <value>      write one field (optimistic locking)
 *   wsz session [--cookie | --logout]           show the shared session's state, or end it
 *   wsz cache purge [--tag t…] [--table T…] [--all]   drop cached rows and answers on every replica
 *   wsz --emulator …                            run against a built-in emulator in this process
 *
 * Configuration as for the server (`LEGACY_API_URL`, `WSZ_CONFIG_FILE`, `REDIS_URL`, …). Without an
 * upstream it fails (exit 2) naming the settings: it never falls back to an emulator unless asked
 * with `--emulator`. Without `REDIS_URL` the session is kept in a local file (`WSZ_SESSION_FILE`),
 * so runs one after another share one session (one licence) as the old cookie file did.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { LegacyAPIError } from '../legacy/errors.js';
import { f, type FilterNode } from '../legacy/filter.js';
import { findAttribute, findTable, TABLE_NAMES, TABLES, type TableDef } from '../legacy/tables.js';
import { createCache, PurgeInputError } from '../cache/index.js';
import { createRuntime, TYPE_TABLES, type Runtime } from '../runtime.js';

/** Where the command writes; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Environment variables for the configuration; default `process.env` (read by config.ts). */
  env?: Record<string, string | undefined>;
}

/** Bad input found while running a command (commander reports its own parsing errors itself). */
class UsageError extends Error {
  override name = 'UsageError';
}

const WHERE = /^([^\s!<>=^*]+)\s*(!=|<=|>=|\^=|\*=|=|<|>)\s*(.*)$/s;

function requireTable(name: string): TableDef {
  const table = findTable(name);
  if (!table) throw new UsageError(`unknown table ${JSON.stringify(name)}; known tables: ${TABLE_NAMES.join(', ')}`);
  return table;
}

/** Converts a command-line text into the attribute's type (number, boolean, ISO date, JSON object). */
export function parseValue(table: TableDef, attribute: string, text: string): unknown {
  const def = findAttribute(table, attribute);
  if (!def) {
    throw new UsageError(
      `table ${table.name} has no attribute ${JSON.stringify(attribute)}; attributes: ${table.attributes.map((a) => a.name).join(', ')}`,
    );
  }
  switch (def.type) {
    case 'long':
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${attribute} is a number, got ${JSON.stringify(text)}`);
      return n;
    }
    case 'bool':
      if (text !== 'true' && text !== 'false') throw new UsageError(`${attribute} is true or false, got ${JSON.stringify(text)}`);
      return text === 'true';
    case 'date':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new UsageError(`${attribute} is a date YYYY-MM-DD, got ${JSON.stringify(text)}`);
      return text;
    case 'object':
      try {
        return JSON.parse(text);
      } catch {
        throw new UsageError(`${attribute} is a JSON object, got ${JSON.stringify(text)}`);
      }
    default:
      return text;
  }
}

/** `Nummer=218093`, `Gewicht>=10`, `Bezeichnung^=Lok` (begins), `Bezeichnung*=blau` (contains). */
export function parseWhere(table: TableDef, expression: string): FilterNode {
  const m = WHERE.exec(expression);
  if (!m) {
    throw new UsageError(
      `--where ${JSON.stringify(expression)} is not "attribute<op>value" with op one of = != < <= > >= ^= (begins) *= (contains)`,
    );
  }
  const [, attribute, op, raw] = m;
  const value = parseValue(table, attribute, raw) as string | number | boolean;
  switch (op) {
    case '=': return f.eq(attribute, value);
    case '!=': return f.ne(attribute, value);
    case '<': return f.lt(attribute, value);
    case '<=': return f.lte(attribute, value);
    case '>': return f.gt(attribute, value);
    case '>=': return f.gte(attribute, value);
    case '^=': return f.begins(attribute, String(value));
    default: return f.contains(attribute, String(value));
  }
}

function positiveInt(name: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
}

function toCsv(rows: Record<string, unknown>[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return stringify(
    rows.map((r) => columns.map((c) => (r[c] !== null && typeof r[c] === 'object' ? JSON.stringify(r[c]) : r[c]))),
    { header: true, columns, cast: { boolean: (v) => String(v) } },
  );
}

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

  program
    .command('fetch')
    .description('fetch rows of a table as JSON or CSV')
    .argument('<table>', 'table name, e.g. Artikel_Variante')
    .option('--where <expr...>', 'condition(s), ANDed: attr=value, attr!=value, <, <=, >, >=, ^= (begins), *= (contains)')
    .option('--top <n>', 'rows to fetch (ignored with --all)', positiveInt('--top', 1), 100)
    .option('--skip <n>', 'rows to skip', positiveInt('--skip', 0), 0)
    .option('--all', 'fetch every matching row (pages in parallel)')
    .option('--attributes <list>', 'comma-separated attributes to return')
    .option('--order-by <spec>', 'e.g. "Nummer desc"')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'))
    .action(async (tableName: string, options: { where?: string[]; top: number; skip: number; all?: boolean; attributes?: string; orderBy?: string; format: 'json' | 'csv' }) => {
      const table = requireTable(tableName);
      const conditions = (options.where ?? []).map((w) => parseWhere(table, w));
      const filter = conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0] : f.and(...conditions);
      const attributes = options.attributes?.split(',').map((a) => a.trim()).filter(Boolean);
      const environment = program.opts().env as string | undefined;
      const rt = await getRuntime();
      const rows = options.all
        ? await rt.client.fetchAll(table.name, { filter, attributes, orderBy: options.orderBy, environment })
        : (await rt.client.fetchTable(table.name, { filter, attributes, orderBy: options.orderBy, top: options.top, skip: options.skip, environment })).rows;
      io.out(options.format === 'csv' ? toCsv(rows) : `${JSON.stringify(rows, null, 2)}\n`);
    });

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
  runCli(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
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
