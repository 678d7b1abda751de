/**
 * The `Preise` object of `Artikel_Variante`:
 * `{"Coll": [{"Art": "Laden", "Preis": 12.5, "VE": 1}, {"Art": "Handel", "Preis": 7.9, "VE": 6}]}`
 * where `Laden` is the retail and `Handel` the wholesale price, `VE` the packaging unit.
 */
import { parseMoney, roundMoney } from './fields.js';

export type PriceKind = 'Laden' | 'Handel';

/** A price as the GraphQL `Price` type exposes it. */
export interface Price {
  amount: string;
  packagingUnit: number | null;
}

interface PriceEntry {
  Art?: unknown;
  Preis?: unknown;
  VE?: unknown;
  [other: string]: unknown;
}

function entries(prices: unknown): PriceEntry[] {
  const coll = (prices as { Coll?: unknown } | null)?.Coll;
  return Array.isArray(coll) ? (coll.filter((e) => e && typeof e === 'object') as PriceEntry[]) : [];
}

/**
 * Reads one price kind; `null` when there is no such entry or it has no amount. An amount that is
 * not a number (`"12,50"`) is an error, not a silent `null`.
 */
export function readPrice(prices: unknown, kind: PriceKind): Price | null {
  const entry = entries(prices).find((e) => e.Art === kind);
  if (!entry || entry.Preis === null || entry.Preis === undefined) return null;
  if (typeof entry.Preis !== 'number' || !Number.isFinite(entry.Preis)) {
    throw new TypeError(`Preise entry "${kind}" has a non-numeric Preis ${JSON.stringify(entry.Preis)}`);
  }
  return {
    amount: roundMoney(entry.Preis),
    packagingUnit: typeof entry.VE === 'number' && Number.isInteger(entry.VE) ? entry.VE : null,
  };
}

/**
 * Returns a new `Preise` object with the `kind` entry set to `value` (`{ amount, packagingUnit }`)
 * or removed (`null`); other entries and properties are kept as they were. Without a
 * `packagingUnit` the entry keeps its current `VE` (1 for a new entry).
 */
export function setPrice(prices: unknown, kind: PriceKind, value: unknown): Record<string, unknown> {
  const base = prices && typeof prices === 'object' && !Array.isArray(prices) ? { ...(prices as Record<string, unknown>) } : {};
  const others = entries(prices).filter((e) => e.Art !== kind);
  if (value === null) return { ...base, Coll: others };
  const { amount, packagingUnit } = value as { amount: unknown; packagingUnit?: unknown };
  const existing = entries(prices).find((e) => e.Art === kind);
  // An omitted unit keeps the current one: a new amount alone must not turn a price per 24 into a
  // price per piece. A new entry without a unit is per piece.
  const unit = packagingUnit ?? (Number.isInteger(existing?.VE) && (existing!.VE as number) >= 1 ? existing!.VE : 1);
  if (!Number.isInteger(unit) || (unit as number) < 1) {
    throw new TypeError(`packagingUnit must be a whole number ≥ 1, got ${JSON.stringify(packagingUnit)}`);
  }
  const entry: PriceEntry = { ...existing, Art: kind, Preis: parseMoney(amount), VE: unit };
  // Keep the ERP's order: Laden before Handel, anything else after.
  const coll = kind === 'Laden' ? [entry, ...others] : [...others.filter((e) => e.Art === 'Laden'), entry, ...others.filter((e) => e.Art !== 'Laden')];
  return { ...base, Coll: coll };
}
