/**
 * Pure helpers on 4D wire values shared by the emulator's store and query engine: the text fold
 * 4D uses for comparisons, calendar-date conversions and deep copies.
 */

const ASCII = /^[\x00-\x7f]*$/;
const COMBINING_MARKS = /\p{M}+/gu;

/**
 * Folds text the way 4D compares it by default: case- and diacritic-insensitive
 * (`"Müller"` → `"muller"`, `"Straße"` → `"strasse"`). Wildcards (`@`) and punctuation are kept.
 */
export function foldText(text: string): string {
  // Fast path: most data is ASCII, and NFD normalisation dominates filter time on large tables.
  if (ASCII.test(text)) return text.toLowerCase();
  return text.normalize('NFD').replace(COMBINING_MARKS, '').toLowerCase().replace(/ß/g, 'ss');
}

const MS_PER_DAY = 86_400_000;
const BANG_DATE = /^(\d{1,2})!(\d{1,2})!(\d{1,4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Days since 1970-01-01 of a valid calendar date, or `undefined` when the parts are not a date. */
export function dayNumber(year: number, month: number, day: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  // setUTCFullYear (unlike Date.UTC) keeps years 0–99 literal.
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  return Math.round(check.getTime() / MS_PER_DAY);
}

const wireByDay = new Map<number, string>();

/** Formats a day number as an unpadded 4D wire date `D!M!YYYY`. */
export function dayToWire(day: number): string {
  let wire = wireByDay.get(day);
  if (wire === undefined) {
    const date = new Date(day * MS_PER_DAY);
    wire = `${date.getUTCDate()}!${date.getUTCMonth() + 1}!${date.getUTCFullYear()}`;
    if (wireByDay.size > 100_000) wireByDay.clear();
    wireByDay.set(day, wire);
  }
  return wire;
}

/** Formats a day number as an ISO calendar date `YYYY-MM-DD`. */
export function dayToIso(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const isoByDay = new Map<number, string>();

/**
 * `date.toISOString()` (`2024-05-02T08:15:31.204Z`), several times faster for years 1970–9999:
 * generating 500 000 `__TIMESTAMP`s with the built-in is a noticeable part of start-up.
 */
export function isoTimestamp(date: Date): string {
  const ms = date.getTime();
  if (!(ms >= 0 && ms < 253402300800000)) return date.toISOString(); // outside 1970–9999 (or invalid: throws)
  const day = Math.floor(ms / MS_PER_DAY);
  let rest = ms - day * MS_PER_DAY;
  let iso = isoByDay.get(day);
  if (iso === undefined) {
    iso = dayToIso(day);
    if (isoByDay.size > 100_000) isoByDay.clear();
    isoByDay.set(day, iso);
  }
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  return `${iso}T${PAD2[h]}:${PAD2[m]}:${PAD2[sec]}.${PAD3[rest - sec * 1000]}Z`;
}

export type ParsedDate = { kind: 'empty' } | { kind: 'day'; day: number } | { kind: 'invalid' };

/**
 * Parses a date as it appears on the wire or in a filter: `D!M!YYYY` (padded or not), `YYYY-MM-DD`
 * (a time part is ignored: these are calendar dates), `"0!0!0"`/`null`/`undefined`/`""` → empty.
 */
export function parseDate(value: unknown): ParsedDate {
  if (value === null || value === undefined || value === '') return { kind: 'empty' };
  if (typeof value !== 'string') return { kind: 'invalid' };
  const bang = BANG_DATE.exec(value);
  const iso = bang ? null : ISO_DATE.exec(value);
  if (!bang && !iso) return { kind: 'invalid' };
  const [d, m, y] = bang
    ? [Number(bang[1]), Number(bang[2]), Number(bang[3])]
    : [Number(iso![3]), Number(iso![2]), Number(iso![1])];
  if (bang && d === 0 && m === 0 && y === 0) return { kind: 'empty' };
  const day = dayNumber(y, m, d);
  return day === undefined ? { kind: 'invalid' } : { kind: 'day', day };
}

const wireDayCache = new Map<string, number | null>();

/**
 * Day number of a stored wire date, `null` for an empty (`"0!0!0"`) or null date. Cached, since
 * a table holds few distinct dates but filters and sorts parse them once per row.
 */
export function wireDateToDay(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  let day = wireDayCache.get(value);
  if (day === undefined) {
    const parsed = parseDate(value);
    day = parsed.kind === 'day' ? parsed.day : null;
    if (wireDayCache.size > 100_000) wireDayCache.clear();
    wireDayCache.set(value, day);
  }
  return day;
}

/** Deep copy of a JSON-like value (plain objects and arrays); scalars are returned as is. */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) copy[k] = cloneValue(v);
  return copy as T;
}

/** Rounds to 2 decimals (money), the way the WSZ data stores amounts. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
