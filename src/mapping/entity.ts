/**
 * Declarative entity mapping: one definition per GraphQL entity (its legacy table, key fields and
 * attribute codecs) from which row decoding, attribute lists and loaders are derived.
 */
import { findAttribute, findTable, type TableName } from '../legacy/tables.js';
import { timestamp, type FieldDef } from './fields.js';

/** A raw 4D entity as the legacy client returns it (wire format). */
export type LegacyRow = { __KEY: string; __STAMP: number; __TIMESTAMP?: string; [attribute: string]: unknown };

type Fields = Record<string, FieldDef<any>>;

export interface EntityDefinition<F extends Fields = Fields> {
  /** GraphQL type name. */
  readonly typename: string;
  /** Exact 4D dataclass name. */
  readonly table: TableName;
  /** Model fields, each one legacy attribute with its codec. */
  readonly fields: F;
  /**
   * Fields that identify one entity (besides `id`, which is always the legacy `__KEY`): the
   * federation keys and the `…By<Key>` root queries. Each must be a field of `fields`.
   */
  readonly alternateKeys: readonly (keyof F & string)[];
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
}): EntityDefinition<F> & { readonly typename: T } {
  const table = findTable(definition.table);
  if (!table) throw new Error(`Entity ${definition.typename}: unknown table ${JSON.stringify(definition.table)}`);
  for (const [name, def] of Object.entries(definition.fields)) {
    const attribute = findAttribute(table, def.attribute);
    if (!attribute) {
      throw new Error(`Entity ${definition.typename}.${name}: table ${table.name} has no attribute ${JSON.stringify(def.attribute)}`);
    }
    if (!def.codec.attributeTypes.includes(attribute.type)) {
      throw new Error(
        `Entity ${definition.typename}.${name}: attribute ${table.name}.${def.attribute} is ${attribute.type}, codec expects ${def.codec.attributeTypes.join('|')}`,
      );
    }
  }
  for (const key of definition.alternateKeys ?? []) {
    if (!(key in definition.fields)) throw new Error(`Entity ${definition.typename}: key ${key} is not a field`);
  }
  return Object.freeze({ ...definition, alternateKeys: definition.alternateKeys ?? [] });
}

/** The 4D attribute behind a key field (`id` → `__KEY`). */
export function keyAttribute(def: EntityDefinition, keyField: string): string {
  if (keyField === 'id') return '__KEY';
  const f = def.fields[keyField];
  if (!f) throw new Error(`Entity ${def.typename} has no key field ${JSON.stringify(keyField)}`);
  return f.attribute;
}

/** The attribute list to request for this entity (`$attributes`), so no unmapped data travels. */
export function attributesOf(def: EntityDefinition): string[] {
  return [...new Set(Object.values(def.fields).map((f) => f.attribute))];
}

/** Decodes one raw 4D entity into the entity model. */
export function decodeRow<D extends EntityDefinition>(def: D, row: LegacyRow): EntityModel<D> {
  const model: Record<string, unknown> = {
    __typename: def.typename,
    id: String(row.__KEY),
    stamp: Number(row.__STAMP),
    modifiedAt: timestamp.decode(row.__TIMESTAMP),
  };
  for (const [name, f] of Object.entries(def.fields)) {
    try {
      model[name] = f.codec.decode(row[f.attribute]);
    } catch (err) {
      throw new EntityDecodeError(
        `${def.table}(${row.__KEY}).${f.attribute}: cannot decode ${JSON.stringify(row[f.attribute])}: ${(err as Error).message}`,
      );
    }
  }
  return model as EntityModel<D>;
}
