/** Awaits `promise` and returns what it rejected with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/**
 * Waits until `check()` holds, or `ms` have passed (real time: for work that runs beside the
 * awaited call, such as guest logouts). The caller asserts afterwards, so a timeout still fails.
 */
export async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

/** A clock the test moves by hand (session idle time, the breaker); real time still passes for I/O. */
export function offsetClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}
