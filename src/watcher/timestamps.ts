/**
 * The `timestamp` strategy (protocol reference §11, for servers without change tracking or for one
 * untracked table): per table, the rows whose `__TIMESTAMP` is at or after the highest one seen
 * minus an overlap, compared with what that window held at the last poll. Only the server's own
 * times are compared, never this process's clock. Deletions are invisible this way (TTL).
 */
import { f, type FilterNode } from '../legacy/filter.js';
import type { Page } from '../legacy/client-types.js';
import type { WatchedSource, WatchState } from './watcher.js';

/** A `__TIMESTAMP` as ISO text; 4D's variants (`"!!…!!"`, wrapped in quotes) parsed leniently. */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.replace(/^"+|"+$/g, '').replace(/^!!|!!$/g, '');
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/**
 * The rows of a change query, page after page (4D sends 100 unless told otherwise); past `bound`
 * rows it stops, since the exact keys no longer matter then: the table is dropped whole.
 */
export async function pagedRows(
  source: WatchedSource,
  query: { table: string; filter: FilterNode; attributes: string[]; orderBy: string; pageSize: number; bound: number },
): Promise<Page['rows']> {
  const { table, filter, attributes, orderBy } = query;
  const top = query.pageSize;
  const out: Page['rows'] = [];
  for (let skip = 0; ; skip += top) {
    const page = await source.fetchTable(table, { filter, attributes, orderBy, top, skip });
    if (!Array.isArray(page.rows)) throw new Error(`malformed change answer for ${table}`);
    out.push(...page.rows);
    if (out.length > query.bound || skip + page.rows.length >= page.total || page.rows.length === 0) break;
  }
  return out;
}

export interface TimestampTrackerOptions {
  readonly source: WatchedSource;
  /** How each table's changes are found; only the `timestamp` ones are this tracker's. */
  readonly tables: ReadonlyMap<string, 'globalStamp' | 'timestamp'>;
  /** Subtracted from the highest `__TIMESTAMP` seen (ms): saves committed late with an earlier time. */
  readonly overlapMs: number;
  /** A paged change query (see `pagedRows`). */
  readonly rows: (table: string, filter: FilterNode, attributes: string[], orderBy: string) => Promise<Page['rows']>;
}

export class TimestampTracker {
  constructor(private readonly options: TimestampTrackerOptions) {}

  /**
   * The `timestamp` tables: rows with a `__TIMESTAMP` at or after the highest one seen minus the
   * overlap, compared with the rows that window held last time (the server's own times, never
   * this process's clock).
   */
  async tables(
    state: WatchState,
    all: boolean,
  ): Promise<{ keys: Map<string, Set<string>>; seen: Record<string, string>; recent: Record<string, Record<string, number>>; changed: boolean }> {
    const seen: Record<string, string> = { ...state.timestamps };
    const recent: Record<string, Record<string, number>> = { ...state.recent };
    const keys = new Map<string, Set<string>>();
    let changed = false;
    for (const [table, how] of this.options.tables) {
      if (!all && how !== 'timestamp') continue;
      const highest = seen[table];
      if (!highest) {
        // Empty at the last baseline: rows now are rows created since (the table's lists changed).
        const baseline = await this.window(table);
        if (baseline) {
          [seen[table], recent[table]] = [baseline.highest, baseline.window];
          changed = true;
          keys.set(table, new Set(Object.keys(baseline.window)));
        }
        continue;
      }
      const window = await this.windowFrom(table, highest);
      const known = state.recent?.[table];
      // Without a recorded window (a state from before it was kept), only later times are new.
      const fresh = window.rows.filter((r) => (known ? known[r.key] !== r.stamp : r.time > highest));
      seen[table] = window.highest ?? highest;
      recent[table] = window.window;
      if (fresh.length > 0) {
        changed = true;
        keys.set(table, new Set(fresh.map((r) => r.key)));
      }
    }
    return { keys, seen, recent, changed };
  }

  async baseline(state: WatchState | undefined): Promise<Pick<WatchState, 'timestamps' | 'recent'>> {
    const timestamps: Record<string, string> = { ...state?.timestamps };
    const recent: Record<string, Record<string, number>> = { ...state?.recent };
    for (const [table, how] of this.options.tables) {
      if (how !== 'timestamp') continue;
      const baseline = await this.window(table);
      if (baseline) [timestamps[table], recent[table]] = [baseline.highest, baseline.window];
    }
    return { timestamps, recent };
  }

  /** The table's latest `__TIMESTAMP` and the rows of the overlap window below it; none for an empty table. */
  private async window(table: string): Promise<{ highest: string; window: Record<string, number> } | undefined> {
    const page = await this.options.source.fetchTable(table, { top: 1, orderBy: '__TIMESTAMP desc', attributes: ['__KEY'] });
    if (!Array.isArray(page.rows)) throw new Error(`malformed answer for the latest __TIMESTAMP of ${table}`);
    const latest = isoTime(page.rows[0]?.__TIMESTAMP);
    if (page.rows.length > 0 && !latest) throw new Error(`the latest ${table} row carries no readable __TIMESTAMP`);
    if (!latest) return undefined;
    const window = await this.windowFrom(table, latest);
    return { highest: window.highest ?? latest, window: window.window };
  }

  /** Rows with `__TIMESTAMP` ≥ `highest` − overlap, and the window to remember below the new highest time. */
  private async windowFrom(table: string, highest: string): Promise<{ rows: Array<{ key: string; stamp: number; time: string }>; highest?: string; window: Record<string, number> }> {
    const overlap = this.options.overlapMs;
    const from = new Date(Date.parse(highest) - overlap).toISOString();
    const raw = await this.options.rows(table, f.gte('__TIMESTAMP', from), ['__KEY', '__TIMESTAMP', '__STAMP'], '__TIMESTAMP asc');
    const rows: Array<{ key: string; stamp: number; time: string }> = [];
    for (const row of raw) {
      const time = isoTime(row.__TIMESTAMP);
      if (!time || typeof row.__STAMP !== 'number') throw new Error(`malformed change answer for ${table}: a row without a readable __TIMESTAMP or __STAMP`);
      rows.push({ key: String(row.__KEY), stamp: row.__STAMP, time });
    }
    const top = rows.reduce<string | undefined>((max, r) => (max === undefined || r.time > max ? r.time : max), undefined);
    const newest = top !== undefined && top > highest ? top : highest;
    const edge = new Date(Date.parse(newest) - overlap).toISOString();
    const window = Object.fromEntries(rows.filter((r) => r.time >= edge).map((r) => [r.key, r.stamp]));
    return { rows, highest: newest, window };
  }
}
