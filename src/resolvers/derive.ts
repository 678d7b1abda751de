/**
 * Resolvers derived from an entity definition and its relations: the federation reference
 * resolver (by `id` or any alternate key) and one resolver per relation, all through the batched
 * per-request data access. Per-type files add only what is special about their type.
 */
import type { Context } from '../context.js';
import { EntityDecodeError, type EntityDefinition } from '../mapping/entity.js';
import type { BelongsTo, HasMany } from '../mapping/relations.js';

type Relations = Readonly<Record<string, BelongsTo | HasMany>>;
type FieldResolver = (parent: any, args: any, context: Context) => unknown;
type ReferenceResolver = (reference: Record<string, unknown>, context: Context) => unknown;

/** `__resolveReference`, one resolver per relation of `def` and one per derived field. */
export function deriveResolvers(def: EntityDefinition, relations: Relations = {}): Record<string, FieldResolver | ReferenceResolver> {
  const keys = ['id', ...def.alternateKeys];
  const resolveReference: ReferenceResolver = (reference, context) => {
    const key = keys.find((k) => reference[k] !== undefined && reference[k] !== null);
    return key ? context.data.byKey(def, key, reference[key] as string) : null;
  };
  const resolvers: Record<string, FieldResolver | ReferenceResolver> = { __resolveReference: resolveReference };
  for (const [name, relation] of Object.entries(relations)) {
    const resolve: FieldResolver =
      relation.kind === 'belongsTo'
        ? (parent, _args, context) => context.data.belongsTo(relation, parent)
        : (parent, _args, context) => context.data.hasMany(relation, parent);
    resolvers[name] = resolve;
  }
  for (const [name, derive] of Object.entries(def.derived)) {
    const resolve: FieldResolver = (parent) => {
      try {
        return derive(parent);
      } catch (err) {
        // Legacy data the mapping cannot read: an error at this field only, naming the record.
        if (err instanceof EntityDecodeError) throw err;
        throw new EntityDecodeError(`${def.typename}(${parent.id}).${name}: ${(err as Error).message}`);
      }
    };
    resolvers[name] = resolve;
  }
  return resolvers;
}
