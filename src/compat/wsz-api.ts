/**
 * WSZ_api compatibility: the three public functions of the old Python package, with their old
 * names (in camelCase), parameters and defaults, on top of the new legacy client.
 *
 * | Python (WSZ_api)                                   | here                                                  |
 * | -------------------------------------------------- | ----------------------------------------------------- |
 * | `fetch_data_from_api(table_name, top=100, skip=0,   | `fetchDataFromApi(tableName, top = 100, skip = 0,      |
 * |   new_data_only=True, date_created_start=None)`     |   newDataOnly = true, dateCreatedStart?)` → rows        |
 * | `push_data(table, column, key, value)` → bool       | `pushData(table, column, key, value)` → boolean        |
 * | `get_session_cookie(mode='live')` → str             | `getSessionCookie(mode = 'live')` → cookie header      |
 *
 * Differences on purpose: the session is the shared one (in Redis with `REDIS_URL`, else in the
 * local session file `WSZ_SESSION_FILE`, so scripts run one after another share one licence as the
 * old cookie file did), the rows are the raw 4D entities (a list of objects instead of a DataFrame),
 * invalid input throws instead of silently fetching or writing something else, and without a
 * configured 4D server every call fails naming the settings: a built-in emulator is used only when
 * asked for (`configureWszApi({ emulator: true })`).
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { f, type FilterNode } from '../legacy/filter.js';
import { LegacyAPIDataError, LegacyValidationError } from '../legacy/errors.js';
import { defaultOrderBy, LegacyClient } from '../legacy/index.js';
import { findTable, TABLE_NAMES, type TableName } from '../legacy/tables.js';
import { createRuntime, type Runtime } from '../runtime.js';

/**
 * The attribute that holds each table's creation date, used by `newDataOnly` with
 * `dateCreatedStart` (the old package filtered on `CREATIONDATE`, which these tables do not have).
 */
export const CREATION_DATE_ATTRIBUTE: Partial<Record<TableName, string>> = {
  Artikel_Familie: 'Release_date',
  Artikel_Variante: 'Release_date',
  Belege: 'Datum',
  Werksauftraege: 'eingestellt',
  WerksauftrPos: 'Datum_begin',
};

/** Options of {@link configureWszApi} (when not passing a client). */
export interface WszApiOptions {
  /**
   * Run against a built-in 4D emulator in this process (generated data; writes end with the process)
   * instead of the configured 4D server. Default `false`: without a configured server every call
   * fails with a ConfigError naming `LEGACY_API_URL` and `WSZ_CONFIG_FILE`.
   */
  emulator?: boolean;
  /** Environment variables the configuration is read from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Logger for the client and the session store. Default: silent. */
  logger?: Logger;
}

let runtime: Promise<Runtime> | undefined;
let injected: LegacyClient | undefined;
let settings: WszApiOptions = {};
let log: Logger = pino({ level: 'silent' });

/**
 * Chooses where the following calls go.
 * - `configureWszApi(client)`: use this legacy client (the caller closes it).
 * - `configureWszApi({ emulator, env, logger })`: build a client from the configuration (environment
 *   variables / `WSZ_CONFIG_FILE`, as the server reads them), or on a built-in emulator with
 *   `emulator: true`.
 * - `configureWszApi(undefined)`: back to the default, a client built from `process.env`.
 *
 * A client this module built before is closed (in the background; await {@link closeWszApi} first to
 * wait for it).
 */
export function configureWszApi(target: LegacyClient | WszApiOptions | undefined, logger?: Logger): void {
  if (target !== undefined && !(target instanceof LegacyClient) && (typeof target !== 'object' || target === null || Array.isArray(target))) {
    throw new TypeError(`configureWszApi takes a LegacyClient, an options object { emulator?, env?, logger? } or undefined, got ${JSON.stringify(target)}`);
  }
  const previous = runtime;
  runtime = undefined;
  if (previous) void previous.then((rt) => rt.close()).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the previous WSZ_api client failed'));
  injected = target instanceof LegacyClient ? target : undefined;
  settings = target instanceof LegacyClient || target === undefined ? {} : { ...target };
  const chosen = logger ?? settings.logger;
  if (chosen) log = chosen;
}

async function client(): Promise<LegacyClient> {
  if (injected) return injected;
  if (!runtime) {
    const starting: Promise<Runtime> = (async () => {
      const config = loadConfig(settings.env, {
        emulator: settings.emulator ? 'always' : 'never',
        emulatorOptIn: 'call configureWszApi({ emulator: true }) to use a built-in emulator with generated data',
      });
      // The file store (without REDIS_URL): scripts run one after another reuse one 4D session.
      return createRuntime(config, log, { sessionStore: 'file' });
    })().catch((err: unknown) => {
      // Not cached: a later call (after the configuration is fixed) tries again.
      if (runtime === starting) runtime = undefined;
      throw err;
    });
    runtime = starting;
  }
  return (await runtime).client;
}

/** Closes the client this module created from the configuration (not an injected one). */
export async function closeWszApi(): Promise<void> {
  const current = runtime;
  runtime = undefined;
  if (current) await (await current.catch(() => undefined))?.close();
}

/**
 * Reads `top` rows of `tableName` starting at `skip` (4D `$top`/`$skip`), in a stable order.
 * With `newDataOnly` and `dateCreatedStart` (ISO `YYYY-MM-DD`), only rows created on or after
 * that date (see {@link CREATION_DATE_ATTRIBUTE}); `newDataOnly` alone filters nothing, as before.
 * @returns the raw 4D entities (attribute names as in the ERP, dates as `D!M!YYYY`).
 * @throws LegacyValidationError for an unknown table, a bad number or date, or a table without a
 *   creation date when one is asked for.
 */
export async function fetchDataFromApi(
  tableName: string,
  top = 100,
  skip = 0,
  newDataOnly = true,
  dateCreatedStart?: string,
): Promise<Record<string, unknown>[]> {
  const table = findTable(tableName);
  if (!table) throw new LegacyValidationError(`Unknown table ${JSON.stringify(tableName)}; known tables: ${TABLE_NAMES.join(', ')}`);
  if (!Number.isInteger(top) || top < 1) throw new LegacyValidationError(`top must be a positive integer, got ${JSON.stringify(top)}`);
  if (!Number.isInteger(skip) || skip < 0) throw new LegacyValidationError(`skip must be an integer ≥ 0, got ${JSON.stringify(skip)}`);
  let filter: FilterNode | undefined;
  if (newDataOnly && dateCreatedStart !== undefined) {
    const attribute = CREATION_DATE_ATTRIBUTE[table.name as TableName];
    if (!attribute) {
      throw new LegacyValidationError(
        `Table ${table.name} has no creation date to filter on; tables with one: ${Object.keys(CREATION_DATE_ATTRIBUTE).join(', ')}`,
      );
    }
    filter = f.gte(attribute, dateCreatedStart);
  }
  // 4D selections are unordered: without $orderby, $skip/$top pages may overlap or miss rows.
  const page = await (await client()).fetchTable(table.name, { filter, top, skip, orderBy: defaultOrderBy(table) });
  return page.rows;
}

/**
 * Writes one field of one record: `value` into attribute `column` of the record whose `__KEY`
 * is `key`. Like the old function, the last writer wins: the record is read for its current stamp,
 * and if it changed between that read and the write, the write is retried once with the new stamp
 * (use the client's `update` with a stamp you read yourself to fail on a conflict instead).
 * @returns `true` when saved; `false` when the ERP refused the write (record gone, stamp changed,
 *   value rejected) — the reason is logged, as the old function printed it.
 * @throws LegacyValidationError before any request for an unknown table or column, a system
 *   attribute or a value of the wrong type; connection and authentication errors are thrown too.
 */
export async function pushData(table: string, column: string, key: string, value: unknown): Promise<boolean> {
  try {
    await (await client()).pushField(table, key, column, value);
    return true;
  } catch (err) {
    if (err instanceof LegacyAPIDataError) {
      log.warn({ table, column, key, err: err.message }, 'pushData: the ERP refused the write');
      return false;
    }
    throw err;
  }
}

/**
 * The `Cookie` header value of the shared 4D session of environment `mode` (logging in if there is
 * none), for tools that call the 4D REST server themselves. When no environment is named `live`,
 * the default `mode` means the configured default environment.
 */
export async function getSessionCookie(mode = 'live'): Promise<string> {
  const c = await client();
  const environments = c.environments();
  const environment = environments.includes(mode) ? mode : mode === 'live' ? undefined : mode;
  return c.getSessionCookie(environment);
}
