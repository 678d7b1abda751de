/** Request counters and the bounded request log of the emulator. */
import type { EmulatorCounters, RequestLogEntry } from './index.js';
import { ROUTE_NAMES } from './http/route.js';

/** Fresh counters; every route name (and every given table) starts at 0 so lookups never yield `undefined`. */
export function createCounters(tableNames: readonly string[]): EmulatorCounters {
  const counters: EmulatorCounters = {
    requests: 0,
    byRoute: {},
    byTable: {},
    logins: 0,
    failedLogins: 0,
    sessionsOpened: 0,
    logouts: 0,
    rejected401: 0,
    rejected402: 0,
    updates: 0,
    faultsInjected: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
  resetCounters(counters, tableNames);
  return counters;
}

/** Zeroes a live counters object in place (callers keep their reference). */
export function resetCounters(counters: EmulatorCounters, tableNames: readonly string[]): void {
  counters.requests = 0;
  counters.logins = 0;
  counters.failedLogins = 0;
  counters.sessionsOpened = 0;
  counters.logouts = 0;
  counters.rejected401 = 0;
  counters.rejected402 = 0;
  counters.updates = 0;
  counters.faultsInjected = 0;
  // inFlight is a live gauge (requests still open); the high-water mark restarts from it.
  counters.maxInFlight = counters.inFlight;
  for (const k of Object.keys(counters.byRoute)) delete counters.byRoute[k];
  for (const k of Object.keys(counters.byTable)) delete counters.byTable[k];
  for (const r of ROUTE_NAMES) counters.byRoute[r] = 0;
  for (const t of tableNames) counters.byTable[t] = 0;
}

/** Maximum entries kept in `requestLog`. */
export const REQUEST_LOG_LIMIT = 1000;

/** Appends to a request log array, keeping only the last {@link REQUEST_LOG_LIMIT} entries. */
export function appendRequestLog(log: RequestLogEntry[], entry: RequestLogEntry): void {
  log.push(entry);
  if (log.length > REQUEST_LOG_LIMIT) log.splice(0, log.length - REQUEST_LOG_LIMIT);
}
