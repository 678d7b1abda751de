/**
 * Value codecs between the 4D REST wire format and plain JavaScript values.
 *
 * 4D sends dates as calendar strings `D!M!YYYY` (not zero-padded in captured output, but padded
 * forms occur too), `"0!0!0"` for an empty date, sometimes ISO strings; the mapping exposes ISO
 * calendar dates (`YYYY-MM-DD`). No time-zone shifts are ever applied: these are calendar dates.
 */

const BANG_DATE = /^(\d{1,2})!(\d{1,2})!(\d{1,4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Thrown by codecs when a wire or input value cannot be converted. */
export class CodecError extends Error {
  override name = 'CodecError';
}

function isValidDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

function iso(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * Decodes a 4D date (`"24!12!2023"`, `"6!3!2017"`, `"0!0!0"`, ISO, or `null`) into an ISO calendar
 * date `YYYY-MM-DD`, or `null` for an empty date. Throws {@link CodecError} on anything else.
 */
export function decodeDate(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string') throw new CodecError(`Expected a 4D date string, got ${JSON.stringify(value)}`);
  const bang = BANG_DATE.exec(value);
  if (bang) {
    const [d, m, y] = [Number(bang[1]), Number(bang[2]), Number(bang[3])];
    if (d === 0 && m === 0 && y === 0) return null;
    if (!isValidDate(y, m, d)) throw new CodecError(`Invalid 4D date ${JSON.stringify(value)}`);
    return iso(y, m, d);
  }
  const isoMatch = ISO_DATE.exec(value);
  if (isoMatch) {
    const [y, m, d] = [Number(isoMatch[1]), Number(isoMatch[2]), Number(isoMatch[3])];
    if (!isValidDate(y, m, d)) throw new CodecError(`Invalid ISO date ${JSON.stringify(value)}`);
    return iso(y, m, d);
  }
  throw new CodecError(`Unrecognised date ${JSON.stringify(value)}: expected D!M!YYYY or YYYY-MM-DD`);
}

/**
 * Encodes an ISO calendar date (`YYYY-MM-DD`, a time part is ignored) or a `Date` for a 4D update
 * body: `D!M!YYYY` (the form every version from v18 accepts); `null` becomes `"0!0!0"`.
 */
export function encodeDate(value: string | Date | null): string {
  if (value === null) return '0!0!0';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CodecError('Invalid Date object');
    return `${value.getUTCDate()}!${value.getUTCMonth() + 1}!${value.getUTCFullYear()}`;
  }
  const isoValue = decodeDate(value);
  if (isoValue === null) return '0!0!0';
  const [y, m, d] = isoValue.split('-').map(Number);
  return `${d}!${m}!${y}`;
}

/** Parses an ISO calendar date into its parts; used by comparisons in filters. */
export function isoDateToFilterValue(value: string): string {
  const decoded = decodeDate(value);
  if (decoded === null) throw new CodecError(`Cannot use an empty date ${JSON.stringify(value)} here`);
  return decoded;
}

/**
 * Decodes a `__TIMESTAMP`, leniently: ISO with milliseconds, `!!2020-04-03!!`, or the ISO value
 * wrapped in literal quotes (v16/v17). Returns an ISO date-time string or `null`.
 */
export function decodeTimestamp(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const cleaned = value.replace(/^"+|"+$/g, '').replace(/^!!|!!$/g, '');
  const t = Date.parse(cleaned);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** Decodes a 4D boolean: JSON `true`/`false`; `null` stays `null`. */
export function decodeBoolean(value: unknown): boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value;
  throw new CodecError(`Expected a boolean, got ${JSON.stringify(value)}`);
}

/** Decodes a 4D number (`long`, `number`); `null` stays `null`. */
export function decodeNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new CodecError(`Expected a number, got ${JSON.stringify(value)}`);
}
