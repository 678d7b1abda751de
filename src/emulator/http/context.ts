/** What the REST handlers need from the running emulator. */
import type { EmulatorDatabase, EmulatorTable } from '../data/store.js';
import type { EmulatorCounters } from '../index.js';
import type { EntitySetCache } from './entitysets.js';
import { ErrCode, RestError } from './errors.js';
import type { QueryParams } from './params.js';

export type EmulatedVersion = 'v18' | 'v20' | 'v21';

export interface HandlerContext {
  readonly db: EmulatorDatabase;
  readonly version: EmulatedVersion;
  readonly params: QueryParams;
  readonly maxTop: number | undefined;
  readonly entitySets: EntitySetCache;
  readonly counters: EmulatorCounters;
  /** Clock, epoch ms. */
  now(): number;
}

/** The table of a dataclass name, or a 404 with errCode 1800. */
export function requireTable(db: EmulatorDatabase, name: string): EmulatorTable {
  const table = db.table(name);
  if (!table) throw RestError.of(404, ErrCode.entityNotFound, `The "${name}" dataclass does not exist or is not exposed as a REST resource`);
  return table;
}

/** The URI a server of this version emits for one entity: `/rest/Dc(KEY)` (v18, v20) or `/rest/Dc[KEY]` (v21). */
export function entityUri(version: EmulatedVersion, dataClass: string, key: string): string {
  const k = encodeURIComponent(key);
  return version === 'v21' ? `/rest/${dataClass}[${k}]` : `/rest/${dataClass}(${k})`;
}
