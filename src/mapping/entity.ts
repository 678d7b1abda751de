/**
 * Declarative entity mapping: one definition per GraphQL entity (its legacy table, key fields,
 * attribute codecs, sort fields, relations) from which row decoding, attribute lists, filters,
 * loaders and resolvers are derived.
 */
import { findAttribute, findTable, type TableName } from '../legacy/tables.js';
import { timestamp, type FieldDef } from './fields.js';

/** A raw 4D entity as the legacy client returns it (wire format). */
export type LegacyRow = { __KEY: string; __STAMP: number; __TIMESTAMP?: string; [attribute: string]: unknown };

type Fields = Record<string, FieldDef<any>>;

/**
 * An input field that is not one attribute: it changes an attribute as a function of its current
 * value (a price inside the `Preise` object). Needs the current row, read before the write.
 */
export interface VirtualInput {
  readonly attribute: string;
  apply(current: unknown, value: unknown): unknown;
}

export interface EntityDefinition<F extends Fields = Fields> {
  /** GraphQL type name. */
  readonly typename: string;
  /** Exact 4D dataclass name. */
  readonly table: TableName;
  /** Model fields, each one legacy attribute with its codec. Names are the GraphQL field names. */
  readonly fields: F;
  /**
   * Fields that identify one entity (besides `id`, which is always the legacy `__KEY`): the
   * federation keys and the `…By<Key>` root queries. Each must be a field of `fields`.
   */
  readonly alternateKeys: readonly (keyof F & string)[];
  /** GraphQL order enum value → model field. */
  readonly orderFields: Readonly<Record<string, keyof F & string>>;
  /** The natural order of lists, also the tie-breaker after any requested order. */
  readonly defaultOrder: readonly (keyof F & string)[];
  /** Input fields that rewrite an attribute from its current value. */
  readonly virtualInputs: Readonly<Record<string, VirtualInput>>;
  /** GraphQL fields computed from the model (`retailPrice` from `prices`); resolvers come from here. */
  readonly derived: Readonly<Record<string, (model: any) => unknown>>;
  /** Model fields that are not GraphQL fields (raw objects, foreign keys): left out of `publicValues`. */
  readonly internal: readonly string[];
}

/** The decoded entity: `id`, `stamp`, `modifiedAt` plus one property per mapped field. */
export type EntityModel<D extends EntityDefinition> = {
  readonly __typename: D['typename'];
  readonly id: string;
  readonly stamp: number;
  readonly modifiedAt: string | null;
} & { readonly [K in keyof D['fields']]: D['fields'][K] extends FieldDef<infer T> ? T : never };

/** Raised when the ERP sends a value that the mapping cannot decode (names table, key, attribute). */
export class EntityDecodeError extends Error {
  override name = 'EntityDecodeError';
}

/**
 * Declares an entity and checks it against the table catalog at once, so a typo in an attribute
 * name fails at start-up, not on the first query.
 */
export function defineEntity<const F extends Fields, const T extends string>(definition: {
  typename: T;
  table: TableName;
  fields: F;
  alternateKeys?: readonly (keyof F & string)[];
  orderFields?: Readonly<Record<string, keyof F & string>>;
  defaultOrder: readonly (keyof F & string)[];
  virtualInputs?: Readonly<Record<string, VirtualInput>>;
  derived?: Readonly<Record<string, (model: any) => unknown>>;
  internal?: readonly (keyof F & string)[];
}): EntityDefinition<F> & { readonly typename: T } {
  const where = `Entity ${definition.typename}`;
  const table = findTable(definition.table);
  if (!table) throw new Error(`${where}: unknown table ${JSON.stringify(definition.table)}`);
  for (const [name, def] of Object.entries(definition.fields)) {
    const attribute = findAttribute(table, def.attribute);
    if (!attribute) throw new Error(`${where}.${name}: table ${table.name} has no attribute ${JSON.stringify(def.attribute)}`);
    if (!def.codec.attributeTypes.includes(attribute.type)) {
      throw new Error(
        `${where}.${name}: attribute ${table.name}.${def.attribute} is ${attribute.type}, codec expects ${def.codec.attributeTypes.join('|')}`,
      );
    }
  }
  const fieldNames = [
    ...(definition.alternateKeys ?? []),
    ...Object.values(definition.orderFields ?? {}),
    ...definition.defaultOrder,
    ...(definition.internal ?? []),
  ];
  for (const name of fieldNames) {
    if (!(name in definition.fields)) throw new Error(`${where}: ${name} is not one of its fields`);
  }
  for (const [name, input] of Object.entries(definition.virtualInputs ?? {})) {
    if (!findAttribute(table, input.attribute)) throw new Error(`${where}: virtual input ${name} writes unknown ${input.attribute}`);
  }
  return Object.freeze({
    ...definition,
    alternateKeys: definition.alternateKeys ?? [],
    orderFields: definition.orderFields ?? {},
    virtualInputs: definition.virtualInputs ?? {},
    derived: definition.derived ?? {},
    internal: definition.internal ?? [],
  });
}

/** The 4D attribute behind a model field (`id` → `__KEY`). */
export function attributeOf(def: EntityDefinition, field: string): string {
  if (field === 'id') return '__KEY';
  const f = def.fields[field];
  if (!f) throw new Error(`Entity ${def.typename} has no field ${JSON.stringify(field)}`);
  return f.attribute;
}

/** The attribute list to request for this entity (`$attributes`), so no unmapped data travels. */
export function attributesOf(def: EntityDefinition): string[] {
  return [...new Set(Object.values(def.fields).map((f) => f.attribute))];
}

/**
 * Decodes one raw 4D entity into the entity model. Each field is decoded when first read, so a
 * value the mapping cannot decode fails only that field (a GraphQL error at its path), never the
 * entity or the list it is in.
 */
export function decodeRow<D extends EntityDefinition>(def: D, row: LegacyRow): EntityModel<D> {
  const model: Record<string, unknown> = {
    __typename: def.typename,
    id: String(row.__KEY),
    stamp: Number(row.__STAMP),
    modifiedAt: timestamp.decode(row.__TIMESTAMP),
  };
  for (const [name, f] of Object.entries(def.fields)) {
    let decoded: { value: unknown } | undefined;
    Object.defineProperty(model, name, {
      enumerable: true,
      get() {
        if (!decoded) {
          try {
            decoded = { value: f.codec.decode(row[f.attribute]) };
          } catch (err) {
            throw new EntityDecodeError(
              `${def.table}(${row.__KEY}).${f.attribute}: cannot decode ${JSON.stringify(row[f.attribute])}: ${(err as Error).message}`,
            );
          }
        }
        return decoded.value;
      },
    });
  }
  return model as EntityModel<D>;
}

/** Reads a model field, `undefined` when its value cannot be decoded (for sorting and priming). */
export function readSafely(model: object, field: string): unknown {
  try {
    return (model as Record<string, unknown>)[field];
  } catch {
    return undefined;
  }
}

/**
 * The model as GraphQL clients see it: `id`, `stamp`, `modifiedAt`, the public fields and the derived
 * ones (used for `currentValues` of a `STALE_STAMP` error). Undecodable values are left out.
 */
export function publicValues(def: EntityDefinition, model: object): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of ['id', 'stamp', 'modifiedAt', ...Object.keys(def.fields)]) {
    if (def.internal.includes(name)) continue;
    const value = readSafely(model, name);
    if (value !== undefined) values[name] = value;
  }
  for (const [name, derive] of Object.entries(def.derived)) {
    try {
      values[name] = derive(model);
    } catch {
      // an undecodable source value: leave the derived field out
    }
  }
  return values;
}
