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
  /** Model value → wire value for `$method=update`. */
  encode(value: T): unknown;
}

export interface FieldDef<T = unknown> {
  /** Exact 4D attribute name. */
  readonly attribute: string;
  readonly codec: FieldCodec<T>;
  /** May clients change it through a mutation? Default `false`. */
  readonly writable: boolean;
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

/** Declares a mapped field. */
export function field<T>(attribute: string, codec: FieldCodec<T>, options: { writable?: boolean } = {}): FieldDef<T> {
  return { attribute, codec, writable: options.writable ?? false };
}
