/**
 * Fault injection and latency. Faults are queued in the order they were armed and each incoming
 * request (any route, login included) consumes at most one, before any other processing.
 */

export type Fault =
  | { kind: 'fail'; status: number }
  /** Socket destroyed before the request is processed: nothing happens. */
  | { kind: 'drop' }
  /** Never processed, never answered. */
  | { kind: 'hang' }
  | { kind: 'garbage'; variant: 'html' | 'truncated' }
  /** Processed (a write is applied), then the socket is destroyed instead of answering. */
  | { kind: 'loseAnswer' }
  /** Processed at once (a write is applied), answered `ms` later. */
  | { kind: 'delayAnswer'; ms: number }
  /** Processed `ms` after it arrived (a write is applied late), then answered at once. */
  | { kind: 'slow'; ms: number };

/** Faults after which the request is still processed like any other (the answer is what they change). */
export function processesRequest(fault: Fault): fault is Extract<Fault, { kind: 'loseAnswer' | 'delayAnswer' | 'slow' }> {
  return fault.kind === 'loseAnswer' || fault.kind === 'delayAnswer' || fault.kind === 'slow';
}

/** Checks the delay of a `delayAnswer`/`slow` fault. */
export function checkFaultDelay(ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`fault delay must be a number of ms ≥ 0, got ${ms}`);
}

/** FIFO of armed faults. */
export class FaultQueue {
  private readonly queue: Fault[] = [];

  /** Arms `n` copies of a fault behind those already armed. */
  add(n: number, fault: Fault): void {
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`fault count must be a non-negative integer, got ${n}`);
    for (let i = 0; i < n; i++) this.queue.push(fault);
  }

  /** Takes the next fault, if any. */
  next(): Fault | undefined {
    return this.queue.shift();
  }

  get pending(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue.length = 0;
  }
}

/** Base latency plus uniform jitter in ±`jitterMs`. */
export class Latency {
  constructor(
    private ms = 0,
    private jitterMs = 0,
  ) {
    Latency.check(ms, jitterMs);
  }

  static check(ms: number, jitterMs: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`latency must be a number ≥ 0, got ${ms}`);
    if (!Number.isFinite(jitterMs) || jitterMs < 0) throw new TypeError(`jitter must be a number ≥ 0, got ${jitterMs}`);
  }

  set(ms: number, jitterMs = 0): void {
    Latency.check(ms, jitterMs);
    this.ms = ms;
    this.jitterMs = jitterMs;
  }

  /** The delay for one request, in ms (never negative). */
  sample(): number {
    if (this.ms === 0 && this.jitterMs === 0) return 0;
    const jitter = this.jitterMs === 0 ? 0 : (Math.random() * 2 - 1) * this.jitterMs;
    return Math.max(0, this.ms + jitter);
  }
}

/** Body of an injected `failNext` response. */
export function faultErrorBody(status: number): Record<string, unknown> {
  return {
    __ERROR: [{ message: `Injected fault: HTTP ${status} from the 4D REST emulator`, componentSignature: 'dbmg', errCode: status }],
  };
}

/** An HTML page such as a reverse proxy or a stopped 4D web server would serve. */
export const GARBAGE_HTML =
  '<!DOCTYPE html>\n<html><head><title>4D Web Server</title></head><body><h1>Service temporarily unavailable</h1>' +
  '<p>The 4D web server is starting up. Please try again later.</p></body></html>\n';

/** The first half of a collection response, cut in the middle of an entity. */
export const GARBAGE_TRUNCATED_JSON =
  '{"__DATACLASS":"Kunden","__entityModel":"Kunden","__GlobalStamp":0,"__COUNT":2,"__FIRST":0,"__ENTITIES":[{"__KEY":"0F3A';
