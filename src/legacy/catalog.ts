/**
 * What the 4D server says about itself: `$info` (readiness, through the shared session) and
 * `$catalog` (the dataclasses it exposes).
 */
import { getJson } from './answers.js';
import type { PingResult } from './client-types.js';
import type { Runtime } from './environment.js';
import { LegacyAPIDataError } from './errors.js';
import { isPlainObject } from './writes.js';

/** `GET $info` through the shared session: resolves when the environment answers (readiness). */
export async function ping(rt: Runtime, maxUrlBytes: number): Promise<PingResult> {
  const started = performance.now();
  await getJson(rt, maxUrlBytes, { path: '$info', route: 'info' });
  return { environment: rt.name, durationMs: performance.now() - started };
}

/** The `$info` answer as 4D sends it (e.g. `hasDataChangeTracking`). */
export async function info(rt: Runtime, maxUrlBytes: number): Promise<Record<string, unknown>> {
  const json = await getJson(rt, maxUrlBytes, { path: '$info', route: 'info' });
  if (!isPlainObject(json)) throw new LegacyAPIDataError('4D $info answer is not an object', { environment: rt.name });
  return json;
}

/** Names of the dataclasses the server exposes (`GET $catalog`). */
export async function listTables(rt: Runtime, maxUrlBytes: number): Promise<string[]> {
  const json = await getJson(rt, maxUrlBytes, { path: '$catalog', route: 'catalog' });
  const list = isPlainObject(json) ? (json.dataClasses ?? json.dataClass) : undefined;
  if (!Array.isArray(list)) {
    throw new LegacyAPIDataError('4D $catalog answer has no dataClasses array', { environment: rt.name });
  }
  return list.map((d) => (isPlainObject(d) && typeof d.name === 'string' ? d.name : undefined)).filter((n): n is string => !!n);
}
