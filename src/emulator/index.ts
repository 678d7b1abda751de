/**
 * A 4D REST server emulator for the WSZ-DB legacy ERP (protocol reference: `shared/4d-rest-protocol.md`),
 * runnable in-process (`startEmulator`) and standalone (`npm run emulator`).
 *
 * Choices where the reference leaves behaviour undecided (all [INF] there):
 *
 * | Situation | HTTP | Body |
 * |---|---|---|
 * | unknown dataclass (data route or `$catalog/{dc}`) | 404 | `__ERROR` errCode 1800 |
 * | entity not found by key / by attribute, unknown entity-set id | 404 | errCode 1800 / 1802 |
 * | query errors (`$filter`, `$orderby`, `$attributes`, unknown attribute) | the `QueryError`'s status (500) | its errCode (1500, 1804, 1810, 1112, 1200…) |
 * | malformed URL escape, bad `$top`/`$skip`/`$params`, malformed JSON body | 500 | errCode 1806 |
 * | unknown `$keyword` / `$method` value | 500 | errCode 1811 / 1812 |
 * | wrong HTTP verb (GET with `$method=update|delete`, GET on login) | 405 + `Allow` | errCode 1829 |
 * | wrong HTTP verb otherwise (POST on a read route, PUT, DELETE…) | 405 + `Allow` | errCode 1813 |
 * | `$method=update`, any outcome (single object or batch) | **200** | per entity: `__STATUS.success` and, on failure, `__ERROR` (clients must inspect the body) |
 * | no authenticated session (auth `'required'`), conflicting session cookies | 401 | errCode 1561 |
 * | bad credentials (`$directory/login` or HTTP Basic) | 401 | `{ result: false, __ERROR: [1822 "Login failed"] }` |
 * | licence pool full | 402 | errCode 1823 "Maximum number of sessions reached" |
 * | `failNext` | given status (503) | `__ERROR` with errCode = the status |
 *
 * Authentication (auth `'required'`): `$catalog*`, `$directory/*` and unknown paths are open to guests;
 * `$info` and all data routes need an authenticated session. In `'none'` mode guests are served
 * everything; `$directory/login` still works and still takes a licence.
 *
 * Versions: `v18` and `v20` emit parenthesis URIs (`/rest/Kunden(KEY)`), `v21` brackets
 * (`/rest/Kunden[KEY]`); all versions accept both forms. `v18` omits `__DATACLASS` from collections.
 *
 * Counters: `requests`/`byRoute`/`byTable` count every request received, faulted ones included
 * (`byTable` only data routes of existing dataclasses); `logins` counts successful authentications
 * (login or Basic); `sessionsOpened` counts new session cookies issued (guest sessions included);
 * `logouts` counts sessions ended by `$directory/logout`;
 * `rejected401`/`rejected402` count every 401/402 answer (failed logins included); `updates` counts
 * entities created or modified; `faultsInjected` counts consumed faults; `inFlight` is the number
 * of requests open right now and `maxInFlight` its high-water mark. `requestLog[].path` is the
 * request target as sent (path and query string).
 *
 * Faults after which the request is still processed (`loseAnswerNext`, `delayAnswerNext`,
 * `slowNext`) model a write 4D saved although its answer never reached the client in time.
 *
 * Data change tracking (protocol reference §11; `changeTracking`, on by default): one datastore-wide
 * counter in memory, starting at 1 (the generated rows predate tracking: their `__GlobalStamp` is 0).
 * Every insert, update or delete of a record of a tracked table — `$method=update|delete`, the
 * desktop API, the control endpoint: all the same store code — writes the CURRENT counter into the
 * record's `__GlobalStamp` (a delete into the `__Stamp` of a new `__DeletedRecords` row: `__KEY`
 * "1", "2"…, `__STAMP`, `__TIMESTAMP`, `__Stamp`, `__PrimaryKey`, `__TableNumber`, `__TableName`),
 * then increments it. Every collection envelope shows the counter as `__GlobalStamp`: the value the
 * NEXT change will get, so the changes since an envelope stamp `S` are `__GlobalStamp >= S`.
 * `__GlobalStamp` is an attribute of tracked records (sent last, in `$attributes`, `$filter`,
 * `$orderby`, `$distinct`, `$compute`, listed in `$catalog/{dc}` as `long64`, indexed); on an
 * untracked table, or with tracking off, it is an unknown attribute (1500/1804/1810, as for any).
 * With tracking off the envelope stamp is 0, `$info` says `hasDataChangeTracking: false` and
 * `__DeletedRecords` is an unknown dataclass (404/1800). `__DeletedRecords` reads like any
 * dataclass (filter, order, paging, entity sets); `$catalog` lists it only with
 * `deletedRecordsInCatalog`. Its rows and the records of `untrackedTables` never move the counter.
 *
 * Control endpoint (`control`, on by default; turn it off for anything but tests and demos: it has
 * no authentication): `POST /__control/desktop`, `GET|POST /__control/global-stamp`, outside
 * `/rest`, documented in `control.ts`. Like {@link Emulator.desktop} it changes data as a 4D desktop
 * user would, and is not a 4D request: not counted, never faulted, no session or latency.
 */
import type { EmulatorDatabase } from './data/store.js';
import type { DesktopUser } from './control.js';

export { startEmulator } from './server.js';
export { ControlError, type DesktopChange, type DesktopUser } from './control.js';

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** TCP port; default 0 (random) in-process, 8090 from the command line. */
  port?: number;
  /** Interface to bind; default `'127.0.0.1'`. */
  host?: string;
  /** Data-set size factor; default `DEMO_SCALE` (0.01); 1 = production sizes. Ignored with `database`. */
  scale?: number;
  /** Random seed of the generated data; default 42. */
  seed?: number;
  /** Serve this database instead of generating one. */
  database?: EmulatorDatabase;
  /** Licence pool size: licensed sessions at once; default 10. */
  sessions?: number;
  /**
   * Who takes a licence (protocol reference §5.3/§5.4). `'every-session'` (default, as the WSZ
   * server's legacy sessions do): every session, including the guest session opened for a request
   * without a live cookie; on a full pool such a request gets 402 and no session. `'force-login'`:
   * guests are free, authenticating takes the licence.
   */
  licenceMode?: 'every-session' | 'force-login';
  /** Accepted credentials, user → password; default `{ wsz: 'wsz' }`. */
  users?: Record<string, string>;
  /** `'required'` (default): data requests and `$info` need an authenticated session. `'none'`: guests are served. */
  auth?: 'required' | 'none';
  /** Session inactivity expiry in seconds; default 3600. */
  sessionIdleSeconds?: number;
  /** Base latency per response in ms; default 0. */
  latencyMs?: number;
  /** Uniform jitter ±ms around `latencyMs`; default 0. */
  jitterMs?: number;
  /** Emulated server version; default `'v20'`. See the module comment for the differences. */
  version?: 'v18' | 'v20' | 'v21';
  /** Application name, giving the cookie `4DSID_<appName>`; default `'WSZ-DB'`. */
  appName?: string;
  /** Optional cap applied to `$top`/`$limit`; default none. */
  maxTop?: number;
  /** Receives one structured line per request (never cookies or passwords); default silent. */
  logger?: { info(...a: unknown[]): void };
  /**
   * Clock in epoch ms used for session expiry, entity-set timeouts and `__TIMESTAMP`s; default
   * `Date.now`. (Addition to the agreed API, for expiry tests without waiting.)
   */
  now?: () => number;
  /**
   * 4D data change tracking (global stamp, `__GlobalStamp` on records, `__DeletedRecords`, `$info`
   * `hasDataChangeTracking`); default true. Applied to `database` too.
   */
  changeTracking?: boolean;
  /** Tables without a `__GlobalStamp` field: their changes are not tracked and do not move the stamp; default none. */
  untrackedTables?: string[];
  /** List `__DeletedRecords` in `$catalog` (it is served either way while tracking is on); default false. */
  deletedRecordsInCatalog?: boolean;
  /** Serve the control endpoint `/__control/…` (desktop changes, global stamp); default true. */
  control?: boolean;
  /** Serve entity sets (`$method=entityset`); `false` refuses them with 500 / errCode 1813, as a server that does not offer them; default true. */
  entitySets?: boolean;
}

/** Live request counters. */
export interface EmulatorCounters {
  requests: number;
  byRoute: Record<string, number>;
  byTable: Record<string, number>;
  logins: number;
  failedLogins: number;
  sessionsOpened: number;
  /** Sessions ended by `$directory/logout`. */
  logouts: number;
  rejected401: number;
  rejected402: number;
  updates: number;
  faultsInjected: number;
  /** Requests received and not yet answered (or closed) right now; a gauge, kept by `resetCounters`. */
  inFlight: number;
  /** Highest `inFlight` since start or the last `resetCounters` (which restarts it from the current `inFlight`). */
  maxInFlight: number;
}

/** One entry of {@link Emulator.requestLog}; `status` is 0 for dropped or hung requests. */
export interface RequestLogEntry {
  method: string;
  path: string;
  table?: string;
  status: number;
  /** The request's header names, lower case and sorted. */
  headerNames?: string[];
}

/** A running emulator. */
export interface Emulator {
  /** Origin, e.g. `http://127.0.0.1:43121`; the REST API lives under `${url}/rest/`. */
  readonly url: string;
  readonly db: EmulatorDatabase;
  /**
   * Changes made behind the REST server's back, as a 4D desktop user makes them: same store code as
   * REST writes (stamps, `__TIMESTAMP`, `__DeletedRecords`), but no request, no counter, no fault.
   */
  readonly desktop: DesktopUser;
  /** The datastore's global stamp, as the next envelope shows it (the value the next change gets; 0 without tracking). */
  globalStamp(): number;
  /**
   * An administrator's `ds.setGlobalStamp(n)`: the next change gets `n`; it may go down (a reset, a
   * restored backup). Throws a TypeError unless `n` is an integer ≥ 0, an Error while tracking is off.
   */
  setGlobalStamp(n: number): void;
  /** Live object, updated as requests arrive. */
  readonly counters: EmulatorCounters;
  /** Zeroes the counters in place and clears `requestLog`. */
  resetCounters(): void;
  /** Disarms every fault still armed (the 4D server is healthy again). */
  clearFaults(): void;
  /** The last 1000 requests, oldest first. */
  requestLog: RequestLogEntry[];
  setLatency(ms: number, jitterMs?: number): void;
  /** The next `n` requests get `status` (default 503) with a 4D-style `__ERROR` body. */
  failNext(n: number, status?: number): void;
  /** The next `n` requests have their socket destroyed without an answer. */
  dropNext(n: number): void;
  /** The next `n` requests are never answered (until `close()`). */
  hangNext(n: number): void;
  /** The next `n` requests get 200 with an HTML page (`'html'`, default) or truncated JSON (`'truncated'`). */
  garbageNext(n: number, kind?: 'html' | 'truncated'): void;
  /** The next `n` requests are processed (a write is saved), then their socket is destroyed without an answer. */
  loseAnswerNext(n: number): void;
  /** The next `n` requests are processed at once (a write is saved) and answered `ms` later. */
  delayAnswerNext(n: number, ms: number): void;
  /** The next `n` requests are processed `ms` after they arrive (a write is saved late), then answered. */
  slowNext(n: number, ms: number): void;
  /** Changes the licence pool size. */
  setSessionLimit(n: number): void;
  /** Ends every session (frees all licences), as a server restart would. */
  expireAllSessions(): void;
  /** Sessions currently holding a licence (in `every-session` mode: every live session, guests included). */
  activeSessions(): number;
  /** Entity sets held (created, neither released nor expired by the emulator's clock). */
  liveEntitySets(): number;
  /** Stops listening and destroys open (keep-alive and hung) connections. */
  close(): Promise<void>;
}
