/**
 * `__GlobalStamp` as a query attribute (protocol reference §11): an attribute of the records of a
 * TRACKED table only. Elsewhere — change tracking off, an untracked table, `__DeletedRecords`, a bare
 * table definition — it is an unknown attribute (1500), exactly as 4D reports a field that does not
 * exist. Resolved here rather than in `findAttribute`, whose answer depends on the name alone.
 */
import { findAttribute, type AttributeDef, type TableDef } from '../../legacy/tables.js';
import { EmulatorTable, GLOBAL_STAMP, globalStampOf, type Row } from '../data/store.js';

/** 4D stores it as a 64-bit integer; numbers compare numerically, which is all a query needs. */
const GLOBAL_STAMP_ATTRIBUTE: AttributeDef = { name: GLOBAL_STAMP, type: 'number' };

/** Whether `__GlobalStamp` is an attribute of `table`: only of a tracked {@link EmulatorTable}. */
export function hasGlobalStamp(table: EmulatorTable | TableDef): boolean {
  return table instanceof EmulatorTable && table.tracked;
}

/** `findAttribute`, with `__GlobalStamp` resolved by the table's change tracking. */
export function resolveAttribute(table: EmulatorTable | TableDef, name: string): AttributeDef | undefined {
  if (name === GLOBAL_STAMP) return hasGlobalStamp(table) ? GLOBAL_STAMP_ATTRIBUTE : undefined;
  return findAttribute(table instanceof EmulatorTable ? table.def : table, name);
}

/** Reads an attribute of a row; `__GlobalStamp` reads 0 on a record saved before tracking was enabled. */
export function readAttribute(name: string): (row: Row) => unknown {
  return name === GLOBAL_STAMP ? globalStampOf : (row) => row[name];
}
