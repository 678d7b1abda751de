/**
 * A tiny seeded PRNG (mulberry32) for the emulator: deterministic data generation and key
 * creation. Never `Math.random`, so the same seed always yields the same database.
 */

/** Mixes a seed with a salt into a well-spread 32-bit seed (murmur3 finaliser). */
export function mixSeed(seed: number, salt: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(salt >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Random {
  private state: number;

  /** @param seed any 32-bit integer; fractional parts are dropped. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next unsigned 32-bit integer. */
  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** 32 uppercase hex characters (128 bits), the shape of a 4D UUID key. */
  hex32(): string {
    let out = '';
    for (let i = 0; i < 4; i++) {
      const n = this.uint32();
      out += HEX8[n >>> 24] + HEX8[(n >>> 16) & 0xff] + HEX8[(n >>> 8) & 0xff] + HEX8[n & 0xff];
    }
    return out;
  }
}

/** Uppercase 2-digit hex of every byte: Number#toString(16) is slow in a 500 000-key loop. */
const HEX8: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));
