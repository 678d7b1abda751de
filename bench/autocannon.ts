/** autocannon (it bundles no types): the part of its API the benchmark and load scripts use. */
import { createRequire } from 'node:module';

export interface Histogram {
  average: number;
  p50: number;
  p99: number;
  total: number;
}

export interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  '2xx': number;
}

/** One request of a `requests` cycle (each connection sends them in turn). */
export interface AutocannonRequest {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  workers?: number;
  method?: 'POST';
  headers?: Record<string, string>;
  /** The one body every request sends (autocannon refuses `expectBody` with a `requests` array). */
  body?: string;
  expectBody?: string;
  /** Bodies sent in turn instead of `body`. */
  requests?: AutocannonRequest[];
}

export const autocannon = createRequire(import.meta.url)('autocannon') as (options: AutocannonOptions) => Promise<AutocannonResult>;
