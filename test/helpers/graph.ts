/**
 * Helpers for subgraph tests: the GraphQL selection of every scalar field per entity, and the
 * value each field must have, computed from an emulator row (4D wire format) independently of
 * `src/mapping`. Also the 4D comparison rules (folded text, calendar days, nulls) that list and
 * filter expectations need, and small assertions on results and errors.
 */
import { expect } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import type { Row } from '../../src/emulator/data/store.js';
import { foldText } from '../../src/emulator/data/values.js';
import { findAttribute, findTable } from '../../src/legacy/tables.js';
import type { TestSubgraph } from './subgraph.js';

export type { Row };

/** A GraphQL error as the subgraph returns it. */
export interface ResultError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

/** The result of {@link TestSubgraph.execute}. */
export interface Result<T> {
  data?: T | null;
  errors?: ReadonlyArray<ResultError>;
}

/** The live rows of a table (stored objects; read only). */
export function rowsOf(subgraph: TestSubgraph, table: string): Row[] {
  const t = subgraph.emulator.db.table(table);
  if (!t) throw new Error(`no table ${table}`);
  return t.rows();
}

/** The live row with `__KEY` `key` (after updates the store replaces row objects). */
export function rowByKey(subgraph: TestSubgraph, table: string, key: string): Row {
  const row = subgraph.emulator.db.table(table)!.get(key);
  if (!row) throw new Error(`no ${table} row ${key}`);
  return row;
}

/** Upstream requests to `table` since the last `resetCounters()`. */
export function requestsTo(subgraph: TestSubgraph, table: string): number {
  return subgraph.emulator.counters.byTable[table] ?? 0;
}

/** Asserts a result without errors and returns its data. */
export function dataOf<T>(result: Result<T>): T {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  expect(result.data).toBeTruthy();
  return result.data as T;
}

/**
 * Asserts that the result failed with exactly one error of `code` whose message mentions each of
 * `mentions`, and that the error is safe to show (no upstream URL, cookie or stack trace).
 */
export function expectError(subgraph: TestSubgraph, result: Result<unknown>, code: string, ...mentions: string[]): ResultError {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  const error = result.errors![0];
  expect(error.extensions?.code, error.message).toBe(code);
  for (const m of mentions) expect(error.message).toContain(m);
  expectSafeErrors(subgraph.emulator, result.errors);
  return error;
}

/** Errors never carry the upstream URL, a session cookie or a stack trace. */
export function expectSafeErrors(emulator: Emulator, errors: ReadonlyArray<ResultError> | undefined): void {
  const text = JSON.stringify(errors ?? []);
  const origin = new URL(emulator.url);
  expect(text).not.toContain(emulator.url);
  expect(text).not.toContain(`${origin.hostname}:${origin.port}`);
  expect(text).not.toMatch(/4DSID|WASID|cookie/i);
  expect(text).not.toMatch(/stacktrace|\n\s+at /);
}

// ---------------------------------------------------------------------------------------------
// Wire values → expected GraphQL values (written from legacy-tables.md, not from src/mapping)

/** A 4D date (`D!M!YYYY`, `0!0!0`, ISO, `null`) as the ISO calendar date GraphQL must show. */
export function isoDate(wire: unknown): string | null {
  if (wire === null || wire === undefined || wire === '' || wire === '0!0!0') return null;
  const text = String(wire);
  const bang = /^(\d{1,2})!(\d{1,2})!(\d{4})$/.exec(text);
  if (bang) return `${bang[3]}-${bang[2].padStart(2, '0')}-${bang[1].padStart(2, '0')}`;
  const iso = /^(\d{4}-\d{2}-\d{2})/.exec(text);
  if (iso) return iso[1];
  throw new Error(`not a 4D date: ${text}`);
}

/**
 * Money as GraphQL must show it: two places, half away from zero. (The epsilon absorbs the binary
 * error of decimal literals such as 1.005, which is stored as 1.00499999999999989…; amounts in
 * tests are far below the range where it could matter.)
 */
export function money(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const n = value as number;
  const cents = Math.round(Math.abs(n) * 100 + 1e-7);
  return `${n < 0 && cents !== 0 ? '-' : ''}${(cents / 100).toFixed(2)}`;
}

/** A `Preise` entry (`Laden` retail, `Handel` wholesale) as the GraphQL `Price`. */
export function price(preise: unknown, kind: 'Laden' | 'Handel'): { amount: string; packagingUnit: number | null } | null {
  const coll = (preise as { Coll?: Array<Record<string, unknown>> } | null)?.Coll;
  const entry = Array.isArray(coll) ? coll.find((e) => e?.Art === kind) : undefined;
  if (!entry || typeof entry.Preis !== 'number') return null;
  return { amount: money(entry.Preis)!, packagingUnit: Number.isInteger(entry.VE) ? (entry.VE as number) : null };
}

const SALES_TYPES: Record<string, string> = { R: 'INVOICE', A: 'ORDER', L: 'DELIVERY_NOTE', G: 'CREDIT_NOTE' };

function system(row: Row) {
  return { id: row.__KEY, stamp: row.__STAMP, modifiedAt: new Date(row.__TIMESTAMP).toISOString() };
}

/** Every scalar field of each entity: its GraphQL selection and its expected value for a row. */
export const ENTITY = {
  ProductFamily: {
    table: 'Artikel_Familie',
    fields:
      'id sku name nameEn description descriptionEn shortDescription weightGrams category hanging oneSided isNew releaseDate active stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      sku: r.Nummer,
      name: r.Bezeichnung,
      nameEn: r.Bezeichnung_ENG,
      description: r.Beschreibung,
      descriptionEn: r.Beschreibung_ENG,
      shortDescription: r.Beschreibung_kurz,
      weightGrams: r.Gewicht,
      category: r.ArtGr,
      hanging: r.Haengend,
      oneSided: r.Einseitig,
      isNew: r.Neu,
      releaseDate: isoDate(r.Release_date),
      active: r.aktiv,
    }),
  },
  Product: {
    table: 'Artikel_Variante',
    fields:
      'id sku oldSku name nameEn description weightGrams variantCode color size forSale releaseDate discontinuedOn active ' +
      'retailPrice { amount packagingUnit } wholesalePrice { amount packagingUnit } stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      sku: r.Nummer,
      oldSku: r.alteNummer,
      name: r.Bezeichnung,
      nameEn: r.Bezeichnung_ENG,
      description: r.Beschreibung,
      weightGrams: r.Gewicht,
      variantCode: r.ArtikelArt,
      color: r.Farbe,
      size: r.Groesse,
      forSale: r.Verkaufsartikel,
      releaseDate: isoDate(r.Release_date),
      discontinuedOn: isoDate(r.Auslaufdatum),
      active: r.Aktiv,
      retailPrice: price(r.Preise, 'Laden'),
      wholesalePrice: price(r.Preise, 'Handel'),
    }),
  },
  Customer: {
    table: 'Kunden',
    fields:
      'id customerNumber addressNumber group deliveryBlocked priceGroup vatId paymentMethod shippingMethod creditLimit discountPercent cashDiscountDays netPaymentDays stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      customerNumber: r.KundenNr,
      addressNumber: r.AdrNr,
      group: r.Kundengr,
      deliveryBlocked: r.Liefersperre,
      priceGroup: r.Preisgru,
      vatId: r.USt_IdNr,
      paymentMethod: r.Zahlungsart,
      shippingMethod: r.Versandart,
      creditLimit: money(r.Kreditlimit),
      discountPercent: r.Rabatt,
      cashDiscountDays: r.SkontoTage,
      netPaymentDays: r.NettoTage,
    }),
  },
  Address: {
    table: 'Adressen',
    fields:
      'id addressNumber customerNumber company street postalCode city country phone email isDeliveryAddress isBillingAddress isPrimary stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      addressNumber: r.AdrNr,
      customerNumber: r.KundenNr,
      company: r.Firma,
      street: r.Strasse,
      postalCode: r.PLZ,
      city: r.Ort,
      country: r.Land,
      phone: r.Telefon,
      email: r.Email,
      isDeliveryAddress: r.IstLieferadresse,
      isBillingAddress: r.IstRechnungsadresse,
      isPrimary: r.IstHauptadresse,
    }),
  },
  SalesRecord: {
    table: 'Belege',
    fields:
      'id number paperNumber date type typeCode customerNumber netAmount vatAmount freightCost handlingCost totalAmount paid paymentDate currency vatType text stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      number: r.AbsNr,
      paperNumber: r.PapierNr,
      date: isoDate(r.Datum),
      type: SALES_TYPES[String(r.Papierart).trim().toUpperCase()] ?? 'OTHER',
      typeCode: r.Papierart,
      customerNumber: r.KundenNr,
      netAmount: money(r.Netto),
      vatAmount: money(r.MWST_EUR),
      freightCost: money(r.Frachtkosten),
      handlingCost: money(r.Bearbeitungskos),
      totalAmount: money(r.Endbetrag),
      paid: r.bezahlt,
      paymentDate: isoDate(r.ZahlungsDat),
      currency: r['Währung'],
      vatType: r.MWSt_Art,
      text: r.Text,
    }),
  },
  SalesRecordItem: {
    table: 'Belege_Pos',
    fields: 'id salesRecordNumber position sku description quantity unitPrice discountPercent lineTotal itemType pickedQuantity stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      salesRecordNumber: r.AbsNr,
      position: r.PosNr,
      sku: r.ArtNr,
      description: r.Bezeichnung,
      quantity: r.Menge,
      unitPrice: money(r.Preis),
      discountPercent: r.Rabatt,
      lineTotal: money(r.Pos_Betrag),
      itemType: r.Art,
      pickedQuantity: r.Pick_Menge,
    }),
  },
  Mold: {
    table: 'Formen',
    fields: 'id number name active stamp modifiedAt',
    expected: (r: Row) => ({ ...system(r), number: r.FormNr, name: r.Bezeichnung, active: r.aktiv }),
  },
  MoldArticle: {
    table: 'Form_Artikel',
    fields: 'id moldNumber sku cavities stamp modifiedAt',
    expected: (r: Row) => ({ ...system(r), moldNumber: r.FormNr, sku: r.ArtNr, cavities: r.Anzahl }),
  },
  ProductionOrder: {
    table: 'Werksauftraege',
    fields: 'id number moldNumber quantity status createdOn dueDate priority uuid stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      number: r.WerkAufNr,
      moldNumber: r.Form_Nr,
      quantity: r['Stückzahl'],
      status: r.Status,
      createdOn: isoDate(r.eingestellt),
      dueDate: isoDate(r.Termin),
      priority: r.Prio,
      uuid: r.UUID,
    }),
  },
  ProductionOrderItem: {
    table: 'WerksauftrPos',
    fields:
      'id orderNumber position operation targetQuantity doneQuantity remainingQuantity startDate status sku share time piecesPerHour value uuid stamp modifiedAt',
    expected: (r: Row) => ({
      ...system(r),
      orderNumber: r.W_Auftr_Nr,
      position: r.WAP_Nr,
      operation: r.Arbeitsgang,
      targetQuantity: r.St_Soll,
      doneQuantity: r.St_Haben,
      remainingQuantity: r.St_Rest,
      startDate: isoDate(r.Datum_begin),
      status: r.Status,
      sku: r.Art_Nr,
      share: r.Anteil,
      time: r.Zeit,
      piecesPerHour: r.St_Std,
      value: r.Wert,
      uuid: r.UUID,
    }),
  },
} as const;

export type EntityName = keyof typeof ENTITY;

// ---------------------------------------------------------------------------------------------
// 4D comparison rules, for expectations of lists, filters and relations

/** 4D's text comparison: case- and accent-insensitive (`Müller` = `muller`, `ß` = `ss`). */
export function fold(text: unknown): string {
  return foldText(String(text));
}

/** A date attribute as a comparable day count; `null` for `0!0!0`/`null` (4D's empty date). */
export function day(wire: unknown): number | null {
  const iso = isoDate(wire);
  return iso === null ? null : Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
}

type SortKey = string | number | null;

/**
 * Sorts rows the way 4D's `$orderby` does: text folded, dates by day, booleans false first, nulls
 * (and empty dates) first ascending / last descending, ties by `__KEY` ascending.
 */
export function sortLike4D(table: string, rows: readonly Row[], orderBy: ReadonlyArray<readonly [string, 'asc' | 'desc']>): Row[] {
  const def = findTable(table)!;
  const readers = orderBy.map(([attribute, direction]) => {
    const type = findAttribute(def, attribute)?.type;
    if (!type) throw new Error(`${table} has no attribute ${attribute}`);
    const read = (row: Row): SortKey => {
      const v = row[attribute];
      if (type === 'date') return day(v);
      if (v === null || v === undefined) return null;
      if (type === 'string') return fold(v);
      if (type === 'bool') return v ? 1 : 0;
      return v as number;
    };
    return { read, sign: direction === 'desc' ? -1 : 1 };
  });
  const compare = (a: SortKey, b: SortKey): number => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
  return [...rows].sort((x, y) => {
    for (const { read, sign } of readers) {
      const c = compare(read(x), read(y));
      if (c !== 0) return c * sign;
    }
    return x.__KEY < y.__KEY ? -1 : x.__KEY > y.__KEY ? 1 : 0;
  });
}

/** The ids of `rows`, in order. */
export function ids(rows: readonly Row[]): string[] {
  return rows.map((r) => r.__KEY);
}

/** A connection as the tests select it. */
export interface Page {
  totalCount: number;
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Selection of a connection with node ids. */
export const PAGE = 'totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
