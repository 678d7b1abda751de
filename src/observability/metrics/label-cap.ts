/**
 * A cap on the distinct values of a metric label that clients choose (GraphQL operation names):
 * the first `max` distinct values are kept as they are, every later one becomes `other`, so a
 * client sending random names cannot grow the registry (and Prometheus) without bound.
 */

/** The value that stands for every name past the cap. */
export const OTHER = 'other';

/** GraphQL's Name rule, with a length bound: anything else is not a name a client should see on a dashboard. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

export class LabelCap {
  private readonly seen = new Set<string>();

  /** @param max distinct values kept before `other` (0 keeps none: every value is `other`) */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`LabelCap: max must be a whole number >= 0, got ${String(max)}`);
  }

  /** The label value for `value`: itself while it is among the first `max` distinct ones, else `other`. */
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max || !NAME.test(value) || value === OTHER) return OTHER;
    this.seen.add(value);
    return value;
  }

  /** How many distinct values are kept. */
  get size(): number {
    return this.seen.size;
  }
}
