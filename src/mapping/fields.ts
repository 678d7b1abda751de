/**
 * Field codecs of the entity mapping: how one legacy attribute becomes one value of the entity
 * model (decode) and back into a 4D update body (encode).
 */
import { decodeBoolean, decodeDate, decodeNumber, decodeTimestamp, encodeDate } from '../legacy/codecs.js';
import type { AttributeType } from '../legacy/tables.js';

export interface FieldCodec<T> {
  /** The 4D storage type this codec reads, checked against the table catalog at definition time. */
  readonly attributeTypes: readonly AttributeType[];
  /** Wire value → model value. Throws on a value the ERP should never send. */
  decode(wire: unknown): T;
  /**
   * Model value → wire value for `$method=update`. Plain types pass through: GraphQL input types and
   * the legacy client's `validateChange` check them against the table catalog.
   */
  encode(value: T): unknown;
}

export interface FieldDef<T = unknown> {
  /** Exact 4D attribute name. */
  readonly attribute: string;
  readonly codec: FieldCodec<T>;
  /** May clients change it through a mutation? Default `false`. */
  readonly writable: boolean;
  /** May list queries filter on it? Default `false`. */
  readonly filterable: boolean;
}

function textDecode(wire: unknown): string | null {
  if (wire === null || wire === undefined) return null;
  if (typeof wire === 'string') return wire;
  // Numbers occasionally arrive where text is declared (legacy data); show them rather than fail.
  if (typeof wire === 'number') return String(wire);
  throw new TypeError(`Expected text, got ${JSON.stringify(wire)}`);
}

/** Text attribute (`string`); `null` stays `null`. */
export const text: FieldCodec<string | null> = {
  attributeTypes: ['string'],
  decode: textDecode,
  encode: (v) => v,
};

/** Number attribute (`long` or `number`); `null` stays `null`. */
export const number: FieldCodec<number | null> = {
  attributeTypes: ['long', 'number'],
  decode: decodeNumber,
  encode: (v) => v,
};

/** Boolean attribute; `null` stays `null`. */
export const bool: FieldCodec<boolean | null> = {
  attributeTypes: ['bool'],
  decode: decodeBoolean,
  encode: (v) => v,
};

/** Date attribute: `D!M!YYYY` ⇄ ISO `YYYY-MM-DD`, `0!0!0` ⇄ `null`. */
export const date: FieldCodec<string | null> = {
  attributeTypes: ['date'],
  decode: decodeDate,
  encode: (v) => encodeDate(v),
};

/**
 * Rounds a money value to two places, half away from zero, working on the shortest decimal text
 * of the float (so `1.005` becomes `"1.01"`, not the `"1.00"` that `toFixed` gives).
 */
export function roundMoney(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`Expected a finite amount, got ${value}`);
  const negative = value < 0;
  // String() gives the shortest text that reads back as the same float; tiny values use exponents.
  const shortest = String(Math.abs(value));
  const plain = shortest.includes('e') ? Math.abs(value).toFixed(20) : shortest;
  const [intPart, fracPart = ''] = plain.split('.');
  const digits = `${intPart}${(fracPart + '000').slice(0, 3)}`;
  let cents = BigInt(digits.slice(0, -1));
  if (Number(digits.slice(-1)) >= 5) cents += 1n;
  const text = cents.toString().padStart(3, '0');
  const result = `${text.slice(0, -2)}.${text.slice(-2)}`;
  return negative && cents !== 0n ? `-${result}` : result;
}

/** Parses a `Decimal` input (string or number) with at most two places; anything else is refused. */
export function parseMoney(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d{1,13}(\.\d{1,2})?$/.test(text)) {
    throw new TypeError(`Decimal must be a number with at most two decimal places, got ${JSON.stringify(value)}`);
  }
  return Number(text);
}

/** Money attribute (`number`): decoded to a two-place decimal string, written as a number. */
export const money: FieldCodec<string | null> = {
  attributeTypes: ['number', 'long'],
  decode: (wire) => {
    const n = decodeNumber(wire);
    return n === null ? null : roundMoney(n);
  },
  encode: (v) => (v === null ? null : parseMoney(v)),
};

/** Object attribute, passed through as JSON. */
export const object: FieldCodec<Record<string, unknown> | null> = {
  attributeTypes: ['object'],
  decode: (wire) => {
    if (wire === null || wire === undefined) return null;
    if (typeof wire === 'object' && !Array.isArray(wire)) return wire as Record<string, unknown>;
    throw new TypeError(`Expected an object, got ${JSON.stringify(wire)}`);
  },
  encode: (v) => v,
};

/** `__TIMESTAMP` decoder, lenient about the variants 4D versions send. */
export const timestamp = { decode: decodeTimestamp };

/** Declares a mapped field; `writable` and `filterable` default to `false`. */
export function field<T>(
  attribute: string,
  codec: FieldCodec<T>,
  options: { writable?: boolean; filterable?: boolean } = {},
): FieldDef<T> {
  return { attribute, codec, writable: options.writable ?? false, filterable: options.filterable ?? false };
}
