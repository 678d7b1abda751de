/**
 * Reading the command line's arguments: table names, attribute values in the attribute's type,
 * `--where` conditions (compiled with the safe filter builder), positive integers.
 */
import { InvalidArgumentError } from 'commander';
import { f, type FilterNode } from '../legacy/filter.js';
import { findAttribute, findTable, TABLE_NAMES, type TableDef } from '../legacy/tables.js';

/** Bad input found while running a command (commander reports its own parsing errors itself). */
export class UsageError extends Error {
  override name = 'UsageError';
}

const WHERE = /^([^\s!<>=^*]+)\s*(!=|<=|>=|\^=|\*=|=|<|>)\s*(.*)$/s;

export function requireTable(name: string): TableDef {
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

export function positiveInt(name: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
}
