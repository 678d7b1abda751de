/**
 * Server-side entity sets (`$method=entityset`, `/rest/{dc}/$entityset/{id}`): a frozen list of keys
 * with an inactivity timeout (default 7200 s, `$timeout` overrides, each use restarts it).
 */
import { randomBytes } from 'node:crypto';

export interface EntitySet {
  readonly id: string;
  readonly dataClass: string;
  readonly keys: readonly string[];
  readonly sorted: boolean;
  readonly timeoutSeconds: number;
  refreshed: number;
}

/** Default entity-set lifetime, seconds. */
export const DEFAULT_ENTITY_SET_TIMEOUT = 7200;
/** Entity sets kept at most; the least recently created are dropped beyond this. */
const MAX_ENTITY_SETS = 1000;

export class EntitySetCache {
  private readonly sets = new Map<string, EntitySet>();

  constructor(private readonly now: () => number) {}

  create(dataClass: string, keys: readonly string[], sorted: boolean, timeoutSeconds = DEFAULT_ENTITY_SET_TIMEOUT): EntitySet {
    const set: EntitySet = {
      id: randomBytes(16).toString('hex').toUpperCase(),
      dataClass,
      keys: [...keys],
      sorted,
      timeoutSeconds,
      refreshed: this.now(),
    };
    this.sets.set(set.id, set);
    if (this.sets.size > MAX_ENTITY_SETS) {
      const oldest = this.sets.keys().next().value;
      if (oldest !== undefined) this.sets.delete(oldest);
    }
    return set;
  }

  /** The live set with this id (its countdown restarts), or `undefined` when unknown or expired. */
  use(id: string): EntitySet | undefined {
    const set = this.sets.get(id);
    if (!set) return undefined;
    if (this.expired(set)) {
      this.sets.delete(id);
      return undefined;
    }
    set.refreshed = this.now();
    return set;
  }

  release(id: string): boolean {
    const set = this.sets.get(id);
    if (!set || this.expired(set)) {
      this.sets.delete(id);
      return false;
    }
    return this.sets.delete(id);
  }

  /** Live sets (for `$info`). */
  list(): EntitySet[] {
    for (const set of [...this.sets.values()]) if (this.expired(set)) this.sets.delete(set.id);
    return [...this.sets.values()];
  }

  private expired(set: EntitySet): boolean {
    return this.now() - set.refreshed >= set.timeoutSeconds * 1000;
  }
}
