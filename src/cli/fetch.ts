/**
 * `wsz fetch`: one page (`--top`/`--skip`), or every row with `--all`, streamed page by page through
 * the client's `fetchAllPages` (one entity set on the server, released at the end, when the reader
 * goes away and on Ctrl-C). Rows go to stdout as they arrive; a progress line goes to stderr when it
 * is a terminal; without `--top`/`--all` stderr says when the table has more rows than were printed.
 */
import { Command, Option } from 'commander';
import { f } from '../legacy/filter.js';
import type { Runtime } from '../runtime.js';
import type { CliIO } from './wsz.js';
import { rowWriter, parseDelimiter, type Format } from './output.js';
import { parseWhere, positiveInt, requireTable } from './parse.js';
import { progressLine } from './sink.js';

/** Ctrl-C during a pull: it stopped before the next page and released its entity set. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

interface FetchOptions {
  where?: string[];
  top: number;
  skip: number;
  all?: boolean;
  pageSize?: number;
  attributes?: string;
  orderBy?: string;
  format: Format;
  delimiter: string;
  bom?: boolean;
  formulaEscape: boolean;
  isoDates?: boolean;
}

export function fetchCommand(program: Command, io: CliIO, getRuntime: () => Promise<Runtime>): Command {
  return program
    .command('fetch')
    .description('fetch rows of a table as JSON, JSON lines or CSV (with --all streamed page by page)')
    .argument('<table>', 'table name, e.g. Artikel_Variante')
    .option('--where <expr...>', 'condition(s), ANDed: attr=value, attr!=value, <, <=, >, >=, ^= (begins), *= (contains)')
    .option('--top <n>', 'rows to fetch (ignored with --all)', positiveInt('--top', 1), 100)
    .option('--skip <n>', 'rows to skip (ignored with --all)', positiveInt('--skip', 0), 0)
    .option('--all', 'fetch every matching row: one entity set on the server, written page by page as it arrives')
    .option('--page-size <n>', 'rows per request with --all (default: the client page size, 500)', positiveInt('--page-size', 1))
    .option('--attributes <list>', 'comma-separated attributes to return')
    .option('--order-by <spec>', 'e.g. "Nummer desc"')
    .addOption(new Option('--format <format>', 'output format (jsonl: one JSON object a line)').choices(['json', 'jsonl', 'csv']).default('json'))
    .option('--delimiter <char>', 'CSV field delimiter, e.g. ";" for German spreadsheets, or tab', parseDelimiter, ',')
    .option('--bom', 'CSV: start with a UTF-8 byte order mark (Excel then reads umlauts right)')
    .option('--no-formula-escape', "CSV: keep text cells starting with = + - @ tab or CR as they are (default: prefixed with ')")
    .option('--iso-dates', '4D dates (24!12!2023) as ISO dates (2023-12-24); default: as 4D sends them')
    .action(async (tableName: string, options: FetchOptions, command: Command) => {
      const table = requireTable(tableName);
      const conditions = (options.where ?? []).map((w) => parseWhere(table, w));
      const filter = conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0] : f.and(...conditions);
      const attributes = options.attributes?.split(',').map((a) => a.trim()).filter(Boolean);
      const environment = program.opts().env as string | undefined;
      const writer = rowWriter(
        table,
        { format: options.format, delimiter: options.delimiter, bom: options.bom === true, formulaEscape: options.formulaEscape, isoDates: options.isoDates === true, attributes },
        (message) => io.err(`wsz: ${message}\n`),
      );
      const rt = await getRuntime();
      if (!options.all) {
        const page = await rt.client.fetchTable(table.name, { filter, attributes, orderBy: options.orderBy, top: options.top, skip: options.skip, environment });
        await io.out(writer.page(page.rows) + writer.end());
        const shown = options.skip + page.rows.length;
        if (command.getOptionValueSource('top') === 'default' && page.total > shown) {
          io.err(
            `wsz: printed ${page.rows.length} of ${page.total} rows${options.skip ? ` (from row ${options.skip + 1})` : ''}; ` +
              `${page.total - shown} more exist: use --all for every row, or --top/--skip for another page\n`,
          );
        }
        return;
      }
      const progress = progressLine(io.err, io.errIsTTY === true);
      let written = 0;
      try {
        const pages = rt.client.fetchAllPages(table.name, { filter, attributes, orderBy: options.orderBy, pageSize: options.pageSize, environment, signal: io.signal });
        for await (const page of pages) {
          // Written (and flushed to the reader) before the next page is asked for.
          await io.out(writer.page(page.rows));
          written += page.rows.length;
          progress.update(written, page.total);
          if (io.signal?.aborted) break;
        }
        if (io.signal?.aborted) throw new InterruptedError(`interrupted after ${written} rows; the entity set was released`);
        await io.out(writer.end());
      } finally {
        progress.done();
      }
    });
}
