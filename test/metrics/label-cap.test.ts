import { describe, expect, it } from 'vitest';
import { LabelCap, OTHER } from '../../src/observability/metrics/label-cap.js';

describe('LabelCap', () => {
  it('keeps the first names, then answers other; a kept name stays itself', () => {
    const cap = new LabelCap(2);
    expect(['A', 'B', 'C', 'A', 'B', 'D'].map((n) => cap.label(n))).toEqual(['A', 'B', OTHER, 'A', 'B', OTHER]);
    expect(cap.size).toBe(2);
  });

  it('never keeps what is not a GraphQL name, a name longer than 100 characters, or "other" itself', () => {
    const cap = new LabelCap(10);
    for (const bad of ['has space', '1starts', 'x'.repeat(101), 'quote"d', OTHER]) expect(cap.label(bad), bad).toBe(OTHER);
    expect(cap.size).toBe(0);
    expect(cap.label('x'.repeat(100))).toBe('x'.repeat(100));
  });

  it('refuses a cap that is not a whole number, naming it', () => {
    expect(() => new LabelCap(-1)).toThrow(/max must be a whole number >= 0, got -1/);
    expect(() => new LabelCap(1.5)).toThrow(/got 1.5/);
    expect(new LabelCap(0).label('A')).toBe(OTHER);
  });
});
