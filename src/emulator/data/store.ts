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

const SYSTEM = new Set(['__KEY', '__STAMP', '__TIMESTAMP']);
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

export interface EmulatorTableOptions {
  /** Creates `__KEY`s for new rows. Default: a seeded generator of 32 uppercase hex characters. */
  nextKey?: () => string;
  /** Called after every successful write (the database bumps its global stamp). Default: none. */
  onWrite?: () => void;
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

  constructor(def: TableDef, options: EmulatorTableOptions = {}) {
    this.def = def;
    this.attrs = new Map(def.attributes.map((a) => [a.name, a]));
    this.indexed = new Set(def.attributes.filter((a) => a.indexed).map((a) => a.name));
    const random = new Random(mixSeed(def.tableNumber, 0x4b4559));
    this.nextKey = options.nextKey ?? (() => random.hex32());
    this.onWrite = options.onWrite ?? (() => {});
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
   * Unset attributes get 4D's blank value ({@link defaultWireValue}); `__STAMP`/`__TIMESTAMP` in
   * `values` are ignored. Throws {@link StoreError} 1500/1517 on unknown attributes or bad values.
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
   * indexes follow. System attributes in `changes` are ignored (the stamp check is the caller's).
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

  /** Deletes the row; `false` when the key is unknown. */
  delete(key: string): boolean {
    const row = this.byKey.get(key);
    if (!row) return false;
    for (const [name, index] of this.indexes) removeFromIndex(index, lookupKey(this.attribute(name), row[name]), key);
    this.byKey.delete(key);
    this.seq.delete(key);
    if (!CANONICAL_KEY.test(key)) this.nonCanonicalKeys--;
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
}

/** The datastore: one {@link EmulatorTable} per table definition, in the given order. */
export class EmulatorDatabase {
  /** 4D's `__GlobalStamp`: bumped by 1 on every insert, update and delete in any table. */
  globalStamp = 0;
  private readonly tables = new Map<string, EmulatorTable>();

  constructor(tables: readonly TableDef[], options: EmulatorDatabaseOptions = {}) {
    const random = new Random(mixSeed(options.keySeed ?? 0, 0x4b4559));
    const nextKey = (): string => random.hex32();
    const onWrite = (): void => {
      this.globalStamp++;
    };
    for (const def of tables) {
      if (this.tables.has(def.name)) throw new Error(`Duplicate table definition "${def.name}"`);
      this.tables.set(def.name, new EmulatorTable(def, { nextKey, onWrite }));
    }
  }

  /** The table of that exact (case-sensitive) dataclass name, or `undefined`. */
  table(name: string): EmulatorTable | undefined {
    return this.tables.get(name);
  }

  /** Dataclass names in catalog order. */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }
}
