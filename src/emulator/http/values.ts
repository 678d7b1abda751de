/**
 * Type checks and normalisation of values written through `$method=update`, against the 4D storage
 * types of `src/legacy/tables.ts`. Values are stored in 4D wire format (dates as unpadded `D!M!YYYY`).
 */
import type { AttributeDef } from '../../legacy/tables.js';

const BANG_DATE = /^(\d{1,2})!(\d{1,2})!(\d{1,4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function validCalendarDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * Normalises a date written by a client to the stored form: `D!M!YYYY` (not zero-padded), `"0!0!0"`
 * for the empty date, `null` for null. Accepts `D!M!YYYY` (padded or not), `"0!0!0"`, ISO
 * `YYYY-MM-DD` and ISO date-times (the time part is dropped, no time-zone shift). Returns
 * `undefined` when the value is not a valid date.
 */
export function normalizeDate(value: unknown): string | null | undefined {
  if (value === null) return null;
  if (typeof value !== 'string') return undefined;
  const bang = BANG_DATE.exec(value);
  if (bang) {
    const [d, m, y] = [Number(bang[1]), Number(bang[2]), Number(bang[3])];
    if (d === 0 && m === 0 && y === 0) return '0!0!0';
    return validCalendarDate(y, m, d) ? `${d}!${m}!${y}` : undefined;
  }
  const iso = ISO_DATE.exec(value);
  if (iso) {
    const [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    return validCalendarDate(y, m, d) ? `${d}!${m}!${y}` : undefined;
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Result of checking one written value. */
export type Checked = { ok: true; value: unknown } | { ok: false; expected: string };

/** Checks a value written to `attr` and returns its stored form. `null` is accepted for every type. */
export function checkValue(attr: AttributeDef, value: unknown): Checked {
  if (value === null) return { ok: true, value: null };
  switch (attr.type) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : { ok: false, expected: 'a string' };
    case 'long':
      return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2 ** 31
        ? { ok: true, value }
        : { ok: false, expected: 'an integer (long)' };
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? { ok: true, value } : { ok: false, expected: 'a number' };
    case 'bool':
      return typeof value === 'boolean' ? { ok: true, value } : { ok: false, expected: 'true or false' };
    case 'object':
      return isPlainObject(value)
        ? { ok: true, value: structuredClone(value) }
        : { ok: false, expected: 'a JSON object' };
    case 'date': {
      const d = normalizeDate(value);
      return d === undefined
        ? { ok: false, expected: 'a date ("D!M!YYYY", "0!0!0", "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" or null)' }
        : { ok: true, value: d };
    }
  }
}

/**
 * Converts the text value of an attribute lookup (`/rest/{dc}:{attr}(value)`) to the stored form,
 * or `undefined` when it cannot match any value of that type.
 */
export function lookupValue(attr: AttributeDef, text: string): unknown {
  switch (attr.type) {
    case 'string':
      return text;
    case 'long':
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'bool':
      return text === 'true' ? true : text === 'false' ? false : undefined;
    case 'date':
      return normalizeDate(text) ?? undefined;
    case 'object':
      return undefined;
  }
}
