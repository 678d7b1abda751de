/**
 * How `wsz fetch` writes rows, one page at a time (nothing waits for the last page):
 *
 * - `json`: one JSON array, laid out as `JSON.stringify(rows, null, 2)` would (the format of the
 *   old scripts), written row by row;
 * - `jsonl`: one JSON object a line;
 * - `csv`: a header from the first page's attributes, then the rows; `delimiter` (`;` for German
 *   spreadsheets), an optional byte order mark, and formula escaping (on by default): a text cell
 *   starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet
 *   shows it instead of running it (numbers stay numbers).
 *
 * `isoDates` turns the 4D dates of the table's date attributes (`24!12!2023`) into `2023-12-24`
 * (an empty date `0!0!0` into null / an empty cell), with the client's own {@link decodeDate};
 * without it dates are written as the client gives them (4D's wire form).
 */
import { stringify } from 'csv-stringify/sync';
import { CodecError, decodeDate } from '../legacy/codecs.js';
import type { Row } from '../legacy/client-types.js';
import type { TableDef } from '../legacy/tables.js';
import { UsageError } from './parse.js';

export type Format = 'json' | 'jsonl' | 'csv';

export interface OutputOptions {
  readonly format: Format;
  readonly delimiter: string;
  readonly bom: boolean;
  readonly formulaEscape: boolean;
  readonly isoDates: boolean;
  /** Attributes asked for (`--attributes`): the CSV header of an empty result. */
  readonly attributes?: readonly string[];
}

/** Turns pages of rows into output text; `end()` closes what `page()` opened. */
export interface RowWriter {
  page(rows: readonly Row[]): string;
  end(): string;
}

/** `--delimiter`: one character (`tab` or `\t` for a tab), not a quote or a line break. */
export function parseDelimiter(text: string): string {
  const delimiter = text === 'tab' || text === '\\t' ? '\t' : text;
  if ([...delimiter].length !== 1 || /["\r\n]/.test(delimiter)) {
    throw new UsageError(`--delimiter is one character (for example ";" or tab), not a quote or a line break; got ${JSON.stringify(text)}`);
  }
  return delimiter;
}

/** The attributes 4D sends first in every entity, in its order. */
const ENTITY_HEAD = ['__KEY', '__TIMESTAMP', '__STAMP'];

/** Cells a spreadsheet would read as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

export function escapeFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** The row with the table's date attributes as ISO calendar dates (a value that is no 4D date is left as it is). */
function isoDates(table: TableDef, onBadDate: (attribute: string, value: unknown) => void): (row: Row) => Row {
  const dates = table.attributes.filter((a) => a.type === 'date').map((a) => a.name);
  return (row) => {
    const out: Row = { ...row };
    for (const name of dates) {
      if (!(name in out)) continue;
      try {
        out[name] = decodeDate(out[name]);
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        onBadDate(name, out[name]);
      }
    }
    return out;
  };
}

/** A writer for `options.format`; `warn` receives one line per kind of problem (a bad date, a new column). */
export function rowWriter(table: TableDef, options: OutputOptions, warn: (message: string) => void): RowWriter {
  const warned = new Set<string>();
  const once = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(message);
  };
  const convert = options.isoDates
    ? isoDates(table, (attribute, value) => once(`date:${attribute}`, `${table.name}.${attribute} has a value that is no 4D date (${JSON.stringify(value)}); written as it came`))
    : (row: Row) => row;
  if (options.format === 'jsonl') {
    return { page: (rows) => rows.map((r) => `${JSON.stringify(convert(r))}\n`).join(''), end: () => '' };
  }
  if (options.format === 'json') {
    let count = 0;
    return {
      page(rows) {
        let text = '';
        for (const row of rows) {
          text += `${count++ === 0 ? '[\n' : ',\n'}${JSON.stringify(convert(row), null, 2).replace(/^/gm, '  ')}`;
        }
        return text;
      },
      end: () => (count === 0 ? '[]\n' : '\n]\n'),
    };
  }
  let columns: string[] | undefined;
  const csv = (records: unknown[][], header: boolean) =>
    stringify(records, {
      header,
      columns,
      delimiter: options.delimiter,
      bom: header && options.bom,
      cast: {
        boolean: (v) => String(v),
        string: (v) => (options.formulaEscape ? escapeFormula(v) : v),
      },
    });
  const cell = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);
  return {
    page(rows) {
      if (rows.length === 0) return '';
      const header = columns === undefined;
      if (header) columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const known = new Set(columns);
      for (const r of rows) for (const k of Object.keys(r)) if (!known.has(k)) once(`column:${k}`, `attribute ${k} first came after the CSV header was written; its values are left out`);
      return csv(rows.map((r) => { const c = convert(r); return columns!.map((name) => cell(c[name])); }), header);
    },
    end() {
      if (columns !== undefined) return '';
      // No row at all: still a header, from the attributes asked for (or all of them).
      columns = [...ENTITY_HEAD, ...(options.attributes ?? table.attributes.map((a) => a.name))];
      return csv([], true);
    },
  };
}
