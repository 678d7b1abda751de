/**
 * What one GraphQL request's reads learned from the row caches: the tag versions its data was
 * valid under, how long it stays fresh, and whether anything stale or unvouched-for went in. The
 * response cache stores an answer under exactly these versions.
 */
import type { ReadReport } from '../legacy/client-types.js';

export class CacheReport implements ReadReport {
  /** Tag → version token of every value the answer used. */
  readonly tags = new Map<string, string>();
  /** Earliest end of freshness among those values (epoch ms). */
  freshUntil = Number.POSITIVE_INFINITY;
  /** A value past its freshness went in (4D could not answer). */
  stale = false;
  /** The answer must not be kept: the store was away, or one tag was seen at two versions. */
  uncacheable = false;

  observe(tag: string, version: string, freshUntil: number): void {
    const seen = this.tags.get(tag);
    if (seen !== undefined && seen !== version) this.uncacheable = true;
    else this.tags.set(tag, version);
    if (freshUntil < this.freshUntil) this.freshUntil = freshUntil;
  }

  markStale(): void {
    this.stale = true;
  }

  markUncacheable(): void {
    this.uncacheable = true;
  }
}
