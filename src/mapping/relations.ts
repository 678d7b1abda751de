/**
 * Relations between entities, declared once (see `RELATIONS` in entities.ts) and resolved by the
 * loaders in batches: a list of N parents costs one upstream request per relation level.
 */
import type { EntityDefinition } from './entity.js';

export type Direction = 'asc' | 'desc';

/** N→1: `parent[from]` holds the value of the target's key field `to` (`id` or an alternate key). */
export interface BelongsTo<T extends EntityDefinition = EntityDefinition> {
  readonly kind: 'belongsTo';
  readonly target: T;
  readonly from: string;
  readonly to: string;
}

/** 1→N: every target whose field `to` equals `parent[from]`, sorted by `orderBy`. */
export interface HasMany<T extends EntityDefinition = EntityDefinition> {
  readonly kind: 'hasMany';
  readonly target: T;
  readonly from: string;
  readonly to: string;
  readonly orderBy: readonly (readonly [string, Direction])[];
}

export function belongsTo<T extends EntityDefinition>(target: T, from: string, to: 'id' | T['alternateKeys'][number]): BelongsTo<T> {
  if (to !== 'id' && !target.alternateKeys.includes(to)) {
    throw new Error(`belongsTo ${target.typename}.${to}: the target field must be id or an alternate key`);
  }
  return { kind: 'belongsTo', target, from, to };
}

export function hasMany<T extends EntityDefinition>(
  target: T,
  from: string,
  to: keyof T['fields'] & string,
  orderBy: readonly (readonly [keyof T['fields'] & string, Direction])[],
): HasMany<T> {
  if (!(to in target.fields)) throw new Error(`hasMany ${target.typename}.${to}: not a field`);
  return { kind: 'hasMany', target, from, to, orderBy };
}
