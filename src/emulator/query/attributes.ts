/** `$attributes` and path attribute lists (`/rest/Kunden/KundenNr,AdrNr`), and entity projection. */
import { SYSTEM_ATTRIBUTES, type TableDef } from '../../legacy/tables.js';
import { EmulatorTable, GLOBAL_STAMP, type Row } from '../data/store.js';
import { cloneValue } from '../data/values.js';
import { QueryErrCode, QueryError, attributeNotFoundMessage } from './errors.js';
import { hasGlobalStamp } from './tracked.js';

const SYSTEM = new Set<string>(SYSTEM_ATTRIBUTES);

/**
 * Parses an attribute list such as `"Nummer, Bezeichnung"` (spaces trimmed, one pair of outer
 * quotes stripped, duplicates dropped, order kept). `*` alone means every storage attribute.
 * System attributes (`__KEY`, `__STAMP`, `__TIMESTAMP`) are accepted and left out of the result,
 * since they are always sent. `__GlobalStamp` is an attribute of a tracked table (last, and in `*`),
 * unknown elsewhere.
 *
 * @throws {QueryError} 1804 "Cannot completely build a list of attributes with …" for an unknown
 *   attribute (its `errors` stack starts with the 1500 cause, as 4D reports it); 1816 for an empty list
 *   or an empty item.
 */
export function parseAttributeList(spec: string, table: EmulatorTable | TableDef): string[] {
  const def = table instanceof EmulatorTable ? table.def : table;
  let text = spec.trim();
  while ((text.startsWith('"') || text.startsWith("'")) && text.length >= 2 && text.endsWith(text[0])) {
    text = text.slice(1, -1).trim();
  }
  if (text === '') throw new QueryError(QueryErrCode.emptyAttributeList, `The attribute list for the "${def.name}" dataclass is empty`);
  const tracked = hasGlobalStamp(table);
  if (text === '*') return [...def.attributes.map((a) => a.name), ...(tracked ? [GLOBAL_STAMP] : [])];
  const known = new Set(def.attributes.map((a) => a.name));
  if (tracked) known.add(GLOBAL_STAMP);
  const out: string[] = [];
  for (const item of text.split(',')) {
    const name = item.trim();
    if (name === '') {
      throw new QueryError(QueryErrCode.emptyAttributeList, `The attribute list "${spec}" for the "${def.name}" dataclass contains an empty item`);
    }
    if (SYSTEM.has(name)) continue;
    if (!known.has(name)) {
      throw new QueryError(
        QueryErrCode.attributeList,
        `Cannot completely build a list of attributes with "${name}" for the "${def.name}" dataclass`,
        500,
        [{ message: attributeNotFoundMessage(name, def.name), componentSignature: 'dbmg', errCode: QueryErrCode.attributeNotFound }],
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * An entity as the REST server sends it: `__KEY`, `__TIMESTAMP`, `__STAMP`, then the requested
 * attributes (default: every attribute of the row but `__GlobalStamp`, which depends on the
 * table's change tracking) in catalog order, whatever order `attrs` has.
 * Values are deep-copied, so callers cannot mutate the store through the result. A requested
 * attribute missing from the row comes back as `null`.
 */
export function projectRow(row: Row, attrs?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { __KEY: row.__KEY, __TIMESTAMP: row.__TIMESTAMP, __STAMP: row.__STAMP };
  const wanted = attrs ? new Set(attrs) : undefined;
  // Rows are built in catalog order (see EmulatorTable.insert), so their key order is the catalog order.
  for (const [name, value] of Object.entries(row)) {
    if (SYSTEM.has(name) || (wanted ? !wanted.has(name) : name === GLOBAL_STAMP)) continue;
    out[name] = cloneValue(value);
  }
  if (wanted) for (const name of wanted) if (!SYSTEM.has(name) && !(name in out)) out[name] = null;
  return out;
}
