/** `$catalog`, `$catalog/$all`, `$catalog/{dc}` and `$info`. */
import { createHash } from 'node:crypto';
import { DELETED_RECORDS, GLOBAL_STAMP, type EmulatorDatabase, type EmulatorTable } from '../data/store.js';
import type { Session } from '../sessions.js';
import { requireTable } from './context.js';
import type { EntitySetCache } from './entitysets.js';

function tables(db: EmulatorDatabase): EmulatorTable[] {
  return db.tableNames().map((n) => db.table(n)).filter((t): t is EmulatorTable => t !== undefined);
}

/** Which dataclasses the catalog lists. */
export interface CatalogOptions {
  /**
   * List `__DeletedRecords` (first, as 4D's Android SDK tests show it) while change tracking is on;
   * default false (protocol reference §11). It is served either way.
   */
  deletedRecords?: boolean;
}

function listed(db: EmulatorDatabase, options: CatalogOptions): EmulatorTable[] {
  const deleted = options.deletedRecords ? db.deletedRecords() : undefined;
  return deleted ? [deleted, ...tables(db)] : tables(db);
}

/** `GET /rest/$catalog`: name, uri and dataURI of every exposed dataclass (relative URIs, as in captured output). */
export function catalog(db: EmulatorDatabase, options: CatalogOptions = {}): unknown {
  return {
    dataClasses: listed(db, options).map((t) => ({ name: t.def.name, uri: `/rest/$catalog/${t.def.name}`, dataURI: `/rest/${t.def.name}` })),
  };
}

/** 64-bit integers: 4D's type for the stamps of change tracking (the store compares them as numbers). */
const LONG64 = new Set([`${DELETED_RECORDS}.__Stamp`]);

/** The description of one dataclass, as `$catalog/{dc}` returns it. */
export function describeTable(table: EmulatorTable): Record<string, unknown> {
  const def = table.def;
  return {
    name: def.name,
    className: def.name,
    collectionName: `${def.name}Selection`,
    tableNumber: def.tableNumber,
    scope: 'public',
    dataURI: `/rest/${def.name}`,
    attributes: [
      ...def.attributes.map((a, i) => {
        const out: Record<string, unknown> = { name: a.name, kind: 'storage', fieldPos: i + 1, scope: 'public' };
        if (a.indexed) out.indexed = true;
        out.type = LONG64.has(`${def.name}.${a.name}`) ? 'long64' : a.type;
        if (a.type === 'date') out.simpleDate = true;
        return out;
      }),
      // The field 4D's structure editor adds when tracking is enabled: 64-bit, indexed, exposed (§11).
      ...(table.tracked
        ? [{ name: GLOBAL_STAMP, kind: 'storage', fieldPos: def.attributes.length + 1, scope: 'public', indexed: true, type: 'long64' }]
        : []),
    ],
    // The WSZ tables are keyed by the 4D record key itself (a 32-hex UUID), see legacy-tables.md.
    key: [{ name: '__KEY' }],
  };
}

/** `GET /rest/$catalog/$all`. */
export function catalogAll(db: EmulatorDatabase, options: CatalogOptions = {}): unknown {
  return { dataClasses: listed(db, options).map(describeTable) };
}

/** `GET /rest/$catalog/{dc}` (404/1800 for an unknown dataclass). */
export function catalogTable(db: EmulatorDatabase, name: string): unknown {
  return describeTable(requireTable(db, name));
}

/** A stable, non-reversible id: `$info` must not reveal session cookies. */
function opaqueId(kind: string, value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('hex').slice(0, 32).toUpperCase();
}

/**
 * `GET /rest/$info`: cache and session diagnostics, without cookie values. `lifeTime` is in seconds.
 * `hasDataChangeTracking` tells whether the datastore tracks changes (a `__DeletedRecords` table exists).
 */
export function info(db: EmulatorDatabase, sessions: Session[], entitySets: EntitySetCache): unknown {
  const rowCount = tables(db).reduce((n, t) => n + t.size, 0);
  const sets = entitySets.list();
  return {
    cacheSize: 209_715_200,
    usedCache: Math.min(209_715_200, 1_048_576 + rowCount * 256),
    entitySetCount: sets.length,
    entitySet: sets.map((s) => ({
      id: s.id,
      tableName: s.dataClass,
      selectionSize: s.keys.length,
      sorted: s.sorted,
      refreshed: new Date(s.refreshed).toISOString(),
      expires: new Date(s.refreshed + s.timeoutSeconds * 1000).toISOString(),
    })),
    ProgressInfo: [
      { UserInfo: 'flushProgressIndicator', sessions: 0, percent: 0 },
      { UserInfo: 'indexProgressIndicator', sessions: 0, percent: 0 },
    ],
    sessionInfo: sessions.map((s) => ({
      sessionID: opaqueId('session', s.wasid),
      userID: s.userName === null ? '' : opaqueId('user', s.userName),
      userName: s.userName ?? '',
      lifeTime: s.lifetimeSeconds,
      expiration: new Date(s.lastSeen + s.lifetimeSeconds * 1000).toISOString(),
    })),
    jsContextInfo: [{ contextPoolSize: 50, activeDebugger: false }],
    hasDataChangeTracking: db.changeTracking,
  };
}
