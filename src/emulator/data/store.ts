/**
 * The emulator's in-memory datastore: one {@link EmulatorTable} per 4D dataclass of the catalog
 * (`src/legacy/tables.ts`), rows kept in 4D wire format so the HTTP layer can serialise them as is.
 */
import type { AttributeDef, TableDef } from '../../legacy/tables.js';
import { Random, mixSeed } from './random.js';
import { cloneValue, dayToWire, foldText, isoTimestamp, parseDate, wireDateToDay } from './values.js';

/** A value as 4D sends it: dates are `D!M!YYYY` strings, objects inline JSON. */
export type WireValue = string | number | boolean | null | Record<string, unknown>;

/**
 * A stored entity. Attribute values are in 4D WIRE format (dates as unpadded `"D!M!YYYY"`,
 * `"0!0!0"` for an empty date). Rows are immutable: {@link EmulatorTable.update} replaces the object.
 */
export interface Row {
  __KEY: string;
  __STAMP: number;
  __TIMESTAMP: string;
  [attr: string]: unknown;
}

/**
 * A write the store refuses, with the 4D error code the REST server would report
 * (1500 unknown attribute, 1517 value of the wrong type, 1534 duplicate key on creation,
 * 1542 unknown key on update).
 */
export class StoreError extends Error {
  override name = 'StoreError';
  readonly componentSignature = 'dbmg';

  constructor(
    message: string,
    readonly errCode: number,
    /** Suggested HTTP status: 404 for an unknown key, 500 otherwise. */
    readonly status: number = 500,
  ) {
    super(message);
  }
}

/** The datastore-wide change stamp each record of a tracked table carries (protocol reference §11). */
export const GLOBAL_STAMP = '__GlobalStamp';
/** The dataclass of deletions under data change tracking (protocol reference §11). */
export const DELETED_RECORDS = '__DeletedRecords';

/** Attributes a write never sets itself: the store maintains them. */
const SYSTEM = new Set(['__KEY', '__STAMP', '__TIMESTAMP', GLOBAL_STAMP]);
const ASCII_TEXT = /^[\x00-\x7f]*$/;
/** ASCII without lowercase letters: such a key folds to `key.toLowerCase()` and back with `toUpperCase()`. */
const CANONICAL_KEY = /^[\x00-\x60\x7b-\x7f]*$/;

/** The value 4D gives an attribute that was never set: `""`, `0`, `false`, `"0!0!0"`, `null` for objects. */
export function defaultWireValue(attr: AttributeDef): WireValue {
  switch (attr.type) {
    case 'string':
      return '';
    case 'long':
    case 'number':
      return 0;
    case 'bool':
      return false;
    case 'date':
      return '0!0!0';
    case 'object':
      return null;
  }
}

/**
 * Converts a value written through the store (or `$method=update`) to its wire form, the way 4D
 * accepts it: dates as `D!M!YYYY` (padded or not), ISO `YYYY-MM-DD[THH:MM:SSZ]` or `null`; numeric
 * strings for numbers; objects are deep-copied. Throws {@link StoreError} 1517 otherwise.
 */
export function toWireValue(table: TableDef, attr: AttributeDef, value: unknown): WireValue {
  if (value === null || value === undefined) return null; // 4D keeps null distinct from blank values
  switch (attr.type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      return badValue(table, attr, value);
    case 'long':
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) return badValue(table, attr, value);
      return attr.type === 'long' ? Math.trunc(n) : n;
    }
    case 'bool':
      return typeof value === 'boolean' ? value : badValue(table, attr, value);
    case 'date': {
      if (value === '0!0!0') return value;
      const day = typeof value === 'string' ? wireDateToDay(value) : null; // cached: few distinct dates
      if (day !== null) return dayToWire(day);
      const parsed = parseDate(value);
      if (parsed.kind === 'invalid') return badValue(table, attr, value);
      return parsed.kind === 'empty' ? '0!0!0' : dayToWire(parsed.day);
    }
    case 'object':
      return typeof value === 'object' && !Array.isArray(value) ? cloneValue(value as Record<string, unknown>) : badValue(table, attr, value);
  }
}

function badValue(table: TableDef, attr: AttributeDef, value: unknown): never {
  throw new StoreError(
    `The value ${JSON.stringify(value)} cannot be assigned to the ${attr.type} attribute "${attr.name}" of the "${table.name}" dataclass`,
    1517,
  );
}

/** Index / lookup key of a wire value: folded text, numbers, booleans, day numbers; `null` for empty. */
function lookupKey(attr: AttributeDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (attr.type) {
    case 'string':
      return typeof value === 'string' ? foldText(value) : foldText(String(value));
    case 'date':
      return wireDateToDay(value);
    default:
      return value;
  }
}

/**
 * Data change tracking as the database runs it for its tables (protocol reference §11). Every call
 * comes from a write that is certain to succeed (values checked, key known), just before it is stored.
 */
export interface ChangeTracker {
  /** Whether records of `table` carry `__GlobalStamp` (tracking on and the table tracked). */
  tracks(table: EmulatorTable): boolean;
  /**
   * For a tracked table: the CURRENT global stamp, which the saved record receives, after which
   * the counter is incremented. `undefined` (and nothing moves) for an untracked table.
   */
  take(table: EmulatorTable): number | undefined;
  /** A record of `table` was deleted at `now`: for a tracked table, a `__DeletedRecords` row (which takes a stamp). */
  deleted(table: EmulatorTable, row: Row, now: Date): void;
}

export interface EmulatorTableOptions {
  /** Creates `__KEY`s for new rows. Default: a seeded generator of 32 uppercase hex characters. */
  nextKey?: () => string;
  /** Called after every successful write. Default: none. */
  onWrite?: () => void;
  /** Data change tracking (`__GlobalStamp`, `__DeletedRecords`); default none: the table is untracked. */
  tracker?: ChangeTracker;
}

/** A row's `__GlobalStamp`: 0 for a record saved before tracking was enabled (4D's value of a new field). */
export function globalStampOf(row: Row): number {
  const v = row[GLOBAL_STAMP];
  return typeof v === 'number' ? v : 0;
}

/** One dataclass: rows in insertion order, by key, with indexes on the catalog's indexed attributes. */
export class EmulatorTable {
  readonly def: TableDef;
  private readonly byKey = new Map<string, Row>();
  private readonly attrs: ReadonlyMap<string, AttributeDef>;
  /** Names of the attributes the catalog marks `indexed`. */
  private readonly indexed: ReadonlySet<string>;
  /**
   * Per indexed attribute: lookup key → `__KEY`s. Built on the first {@link findBy} of that
   * attribute (bulk generation pays nothing), maintained by every write afterwards.
   */
  private readonly indexes = new Map<string, Map<unknown, string[]>>();
  /** Insertion sequence per key, so index lookups return rows in table order. */
  private readonly seq = new Map<string, number>();
  private nextSeq = 0;
  /**
   * Live keys that are not "canonical" (ASCII without lowercase letters, like the generated
   * 32-hex keys). While there are none, a folded `__KEY` comparison has at most one exact match:
   * see {@link findByFoldedKey}.
   */
  private nonCanonicalKeys = 0;
  private readonly nextKey: () => string;
  private readonly onWrite: () => void;
  private readonly tracker: ChangeTracker | undefined;

  constructor(def: TableDef, options: EmulatorTableOptions = {}) {
    this.def = def;
    this.attrs = new Map(def.attributes.map((a) => [a.name, a]));
    this.indexed = new Set(def.attributes.filter((a) => a.indexed).map((a) => a.name));
    const random = new Random(mixSeed(def.tableNumber, 0x4b4559));
    this.nextKey = options.nextKey ?? (() => random.hex32());
    this.onWrite = options.onWrite ?? (() => {});
    this.tracker = options.tracker;
  }

  /**
   * Whether the records of this table carry `__GlobalStamp` (data change tracking on and the table
   * not excluded): then it reads like an attribute, `$filter`/`$orderby`/`$attributes` accept it.
   */
  get tracked(): boolean {
    return this.tracker?.tracks(this) ?? false;
  }

  /** Number of live rows. */
  get size(): number {
    return this.byKey.size;
  }

  /** Live rows in insertion order (deleted rows excluded). A fresh array; the rows are the stored objects: do not mutate them. */
  rows(): Row[] {
    return Array.from(this.byKey.values());
  }

  /** The row with that `__KEY`, or `undefined`. */
  get(key: string): Row | undefined {
    return this.byKey.get(key);
  }

  /** Insertion position of a live row's key (increasing in {@link rows} order), or `undefined`. */
  position(key: string): number | undefined {
    return this.seq.get(key);
  }

  /** `true` when the catalog marks the attribute `indexed`, so {@link findBy} answers it from an index. */
  isIndexed(attrName: string): boolean {
    return this.indexed.has(attrName);
  }

  /**
   * The rows whose `__KEY`, folded like 4D compares text (`foldText`), equals `folded`, without a
   * scan; `undefined` when that cannot be answered from the key map (some live key has lowercase
   * or non-ASCII characters, so several keys could fold alike). `folded` must already be folded.
   */
  findByFoldedKey(folded: string): Row[] | undefined {
    if (this.nonCanonicalKeys > 0) return undefined;
    // Every key is ASCII without lowercase letters: foldText(key) = key.toLowerCase(), which
    // equals `folded` exactly when key = folded.toUpperCase() and `folded` is ASCII.
    if (!ASCII_TEXT.test(folded)) return [];
    const row = this.byKey.get(folded.toUpperCase());
    return row ? [row] : [];
  }

  /**
   * Rows whose attribute equals `value` the way 4D's `===` compares (text case- and
   * diacritic-insensitive, no wildcard; dates by calendar day, `"0!0!0"` ≡ `null`), in table order.
   * Uses the index for attributes marked `indexed` in the catalog, a scan otherwise.
   * `value` is converted like an update value (`"2017-03-06"` for a date, `"42"` for a number).
   * Throws {@link StoreError} 1500 for an unknown attribute.
   */
  findBy(attrName: string, value: unknown): Row[] {
    if (attrName === '__KEY') {
      const row = value === null || value === undefined ? undefined : this.byKey.get(String(value));
      return row ? [row] : [];
    }
    const attr = this.attribute(attrName);
    let wanted: unknown;
    try {
      wanted = lookupKey(attr, toWireValue(this.def, attr, value));
    } catch {
      return []; // a value that cannot be converted matches nothing
    }
    if (!this.indexed.has(attrName)) return this.rows().filter((row) => lookupKey(attr, row[attrName]) === wanted);
    const keys = this.index(attr).get(wanted);
    if (!keys) return [];
    return [...keys].sort((a, b) => this.seq.get(a)! - this.seq.get(b)!).map((k) => this.byKey.get(k)!);
  }

  /**
   * Creates a row: a new 32-hex uppercase `__KEY` (or `values.__KEY` when given, which must be
   * unused: StoreError 1534), `__STAMP` 1, `__TIMESTAMP` = `now` (default: the current time).
   * Unset attributes get 4D's blank value ({@link defaultWireValue}); `__STAMP`/`__TIMESTAMP`/
   * `__GlobalStamp` in `values` are ignored. In a tracked table the row gets `__GlobalStamp` = the
   * current global stamp, which then moves on. Throws {@link StoreError} 1500/1517 on unknown
   * attributes or bad values.
   */
  insert(values: Record<string, unknown>, now: Date = new Date()): Row {
    for (const name of Object.keys(values)) if (!SYSTEM.has(name)) this.attribute(name);
    let key: string;
    if (values.__KEY !== undefined && values.__KEY !== null && values.__KEY !== '') {
      key = String(values.__KEY);
      if (this.byKey.has(key)) {
        throw new StoreError(`The new entity cannot be saved: the key "${key}" already exists in the "${this.def.name}" dataclass`, 1534);
      }
    } else {
      do key = this.nextKey();
      while (this.byKey.has(key));
    }
    const row: Row = { __KEY: key, __STAMP: 1, __TIMESTAMP: isoTimestamp(now) };
    for (const attr of this.def.attributes) {
      row[attr.name] = attr.name in values ? toWireValue(this.def, attr, values[attr.name]) : defaultWireValue(attr);
    }
    const stamp = this.tracker?.take(this);
    if (stamp !== undefined) row[GLOBAL_STAMP] = stamp;
    this.byKey.set(key, row);
    this.seq.set(key, this.nextSeq++);
    if (!CANONICAL_KEY.test(key)) this.nonCanonicalKeys++;
    for (const [name, index] of this.indexes) addToIndex(index, lookupKey(this.attribute(name), row[name]), key);
    this.onWrite();
    return row;
  }

  /**
   * Saves changes to an existing row: a NEW row object replaces the old one (objects handed out
   * earlier keep their values), `__STAMP` + 1, `__TIMESTAMP` = `now` (default: the current time),
   * indexes follow; in a tracked table `__GlobalStamp` = the current global stamp, which then moves
   * on. System attributes in `changes` are ignored (the stamp check is the caller's).
   * All-or-nothing: throws {@link StoreError} 1542 (unknown key, status 404) or 1500/1517 before
   * changing anything.
   */
  update(key: string, changes: Record<string, unknown>, now: Date = new Date()): Row {
    const old = this.byKey.get(key);
    if (!old) {
      throw new StoreError(`Cannot find entity with "${key}" key in the "${this.def.name}" dataclass`, 1542, 404);
    }
    const next: Row = { ...old, __STAMP: old.__STAMP + 1, __TIMESTAMP: isoTimestamp(now) };
    for (const [name, value] of Object.entries(changes)) {
      if (SYSTEM.has(name)) continue;
      next[name] = toWireValue(this.def, this.attribute(name), value);
    }
    const stamp = this.tracker?.take(this);
    if (stamp !== undefined) next[GLOBAL_STAMP] = stamp;
    for (const [name, index] of this.indexes) {
      const attr = this.attribute(name);
      const before = lookupKey(attr, old[name]);
      const after = lookupKey(attr, next[name]);
      if (before !== after) {
        removeFromIndex(index, before, key);
        addToIndex(index, after, key);
      }
    }
    this.byKey.set(key, next); // Map.set on an existing key keeps its insertion position
    this.onWrite();
    return next;
  }

  /**
   * Deletes the row; `false` when the key is unknown. In a tracked table the deletion is recorded in
   * `__DeletedRecords` at `now` (default: the current time) with the current global stamp.
   */
  delete(key: string, now: Date = new Date()): boolean {
    const row = this.byKey.get(key);
    if (!row) return false;
    for (const [name, index] of this.indexes) removeFromIndex(index, lookupKey(this.attribute(name), row[name]), key);
    this.byKey.delete(key);
    this.seq.delete(key);
    if (!CANONICAL_KEY.test(key)) this.nonCanonicalKeys--;
    this.tracker?.deleted(this, row, now);
    this.onWrite();
    return true;
  }

  private index(attr: AttributeDef): Map<unknown, string[]> {
    let index = this.indexes.get(attr.name);
    if (!index) {
      index = new Map();
      for (const row of this.byKey.values()) addToIndex(index, lookupKey(attr, row[attr.name]), row.__KEY);
      this.indexes.set(attr.name, index);
    }
    return index;
  }

  private attribute(name: string): AttributeDef {
    const attr = this.attrs.get(name);
    if (!attr) {
      throw new StoreError(`The "${name}" attribute cannot be found in the "${this.def.name}" datastore class`, 1500);
    }
    return attr;
  }
}

function addToIndex(index: Map<unknown, string[]>, value: unknown, key: string): void {
  const keys = index.get(value);
  if (keys) keys.push(key);
  else index.set(value, [key]);
}

function removeFromIndex(index: Map<unknown, string[]>, value: unknown, key: string): void {
  const keys = index.get(value);
  const at = keys ? keys.indexOf(key) : -1;
  if (at < 0) return;
  keys!.splice(at, 1);
  if (keys!.length === 0) index.delete(value);
}

export interface EmulatorDatabaseOptions {
  /** Seed of the `__KEY` generator shared by all tables. Default: 0. */
  keySeed?: number;
  /** Data change tracking at creation; default on, every table tracked. See {@link EmulatorDatabase.configureChangeTracking}. */
  changeTracking?: boolean | ChangeTrackingSettings;
}

/** How the datastore tracks changes (protocol reference §11). */
export interface ChangeTrackingSettings {
  /** Data change tracking on: a global stamp, `__GlobalStamp` on records, `__DeletedRecords`. */
  enabled: boolean;
  /** Tables without a `__GlobalStamp` field: no stamp on their records, no `__DeletedRecords` rows, the counter does not move. */
  untrackedTables?: readonly string[];
}

/** The first global stamp of a datastore whose tracking was just enabled. */
export const INITIAL_GLOBAL_STAMP = 1;

/** The `__DeletedRecords` dataclass of a datastore whose user tables are `tables` (its table number follows theirs). */
export function deletedRecordsDef(tables: readonly TableDef[]): TableDef {
  return {
    name: DELETED_RECORDS,
    tableNumber: tables.reduce((n, t) => Math.max(n, t.tableNumber), 0) + 1,
    // The order of 4D's own iOS SDK fixture: __Stamp, __PrimaryKey, __TableNumber, __TableName.
    attributes: [
      { name: '__Stamp', type: 'number', indexed: true },
      { name: '__PrimaryKey', type: 'string' },
      { name: '__TableNumber', type: 'long' },
      { name: '__TableName', type: 'string' },
    ],
  };
}

/**
 * The datastore: one {@link EmulatorTable} per table definition, in the given order, plus, while
 * data change tracking is on, the `__DeletedRecords` table (reachable by {@link table}, not listed
 * by {@link tableNames}).
 *
 * Change tracking (protocol reference §11): one counter for the whole datastore, in memory only,
 * starting at {@link INITIAL_GLOBAL_STAMP}. Every insert, update or delete of a record of a tracked
 * table — REST or in-process, it is the same code — writes the CURRENT value into the record's
 * `__GlobalStamp` (or, for a delete, into the `__Stamp` of a new `__DeletedRecords` row), then
 * increments it. So {@link globalStamp} is the value the NEXT change will get, and the changes since
 * a read stamp `S` are exactly those with `__GlobalStamp >= S`.
 */
export class EmulatorDatabase {
  private readonly tables = new Map<string, EmulatorTable>();
  private readonly deletions: EmulatorTable;
  private counter = INITIAL_GLOBAL_STAMP;
  private tracking = true;
  private untracked: ReadonlySet<string> = new Set();

  constructor(tables: readonly TableDef[], options: EmulatorDatabaseOptions = {}) {
    const random = new Random(mixSeed(options.keySeed ?? 0, 0x4b4559));
    const nextKey = (): string => random.hex32();
    const tracker: ChangeTracker = {
      tracks: (table) => this.tracking && !this.untracked.has(table.def.name),
      take: (table) => (this.tracking && !this.untracked.has(table.def.name) ? this.counter++ : undefined),
      deleted: (table, row, now) => {
        const stamp = tracker.take(table);
        if (stamp === undefined) return;
        this.deletions.insert(
          { __Stamp: stamp, __PrimaryKey: String(row.__KEY), __TableNumber: table.def.tableNumber, __TableName: table.def.name },
          now,
        );
      },
    };
    for (const def of tables) {
      if (this.tables.has(def.name)) throw new Error(`Duplicate table definition "${def.name}"`);
      if (def.name === DELETED_RECORDS) throw new Error(`"${DELETED_RECORDS}" is reserved for data change tracking`);
      this.tables.set(def.name, new EmulatorTable(def, { nextKey, tracker }));
    }
    // 4D numbers __DeletedRecords rows like any table's records: "1", "2", … (see the iOS SDK fixture).
    let deletionKey = 1;
    this.deletions = new EmulatorTable(deletedRecordsDef(tables), { nextKey: () => String(deletionKey++) });
    const setting = options.changeTracking ?? true;
    this.configureChangeTracking(typeof setting === 'boolean' ? { enabled: setting } : setting);
  }

  /**
   * Turns data change tracking on or off and sets the untracked tables (an unknown name throws a
   * TypeError). The counter and the `__DeletedRecords` rows are kept: turning tracking back on goes
   * on from the same stamp. Records saved while a table was untracked read `__GlobalStamp` 0.
   */
  configureChangeTracking(settings: ChangeTrackingSettings): void {
    for (const name of settings.untrackedTables ?? []) {
      if (!this.tables.has(name)) {
        throw new TypeError(`untrackedTables: unknown table ${JSON.stringify(name)} (tables: ${this.tableNames().join(', ')})`);
      }
    }
    this.tracking = settings.enabled;
    this.untracked = new Set(settings.untrackedTables ?? []);
  }

  /** Whether data change tracking is on (`$info` `hasDataChangeTracking`). */
  get changeTracking(): boolean {
    return this.tracking;
  }

  /** Whether records of that table carry `__GlobalStamp` (tracking on and the table not excluded). */
  isTracked(name: string): boolean {
    return this.tracking && this.tables.has(name) && !this.untracked.has(name);
  }

  /**
   * 4D's global stamp, as every collection envelope shows it: the value the next change of a tracked
   * record will get; 0 while tracking is off.
   */
  get globalStamp(): number {
    return this.tracking ? this.counter : 0;
  }

  /**
   * An administrator's `ds.setGlobalStamp(n)`: the next change gets `n`; it may go down. Throws a
   * TypeError for anything but an integer 0 ≤ n ≤ 2^53 − 1, an Error while tracking is off.
   */
  setGlobalStamp(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`the global stamp must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(n)}`);
    if (!this.tracking) throw new Error('data change tracking is off: there is no global stamp to set');
    this.counter = n;
  }

  /** `__DeletedRecords` while tracking is on, else `undefined`. */
  deletedRecords(): EmulatorTable | undefined {
    return this.tracking ? this.deletions : undefined;
  }

  /** The table of that exact (case-sensitive) dataclass name (`__DeletedRecords` while tracking is on), or `undefined`. */
  table(name: string): EmulatorTable | undefined {
    if (name === DELETED_RECORDS) return this.deletedRecords();
    return this.tables.get(name);
  }

  /** Names of the user tables in catalog order (never `__DeletedRecords`). */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }
}
