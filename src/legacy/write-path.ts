/**
 * The legacy client's write path: sending an update (never replayed), reading 4D's answer for one
 * record or a batch, and, when the answer is lost, re-reading the records to learn whether it was
 * saved (the classification is in `writes.ts`). Emits the write events of every outcome.
 */
import type { Logger } from 'pino';
import { getJson, parseAnswer, toRow } from './answers.js';
import type { Row, WriteEvent } from './client-types.js';
import type { ClientSettings, Runtime } from './environment.js';
import {
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacyAPIError,
  LegacyBulkUpdateError,
  LegacyNotFoundError,
  LegacyWriteNotSavedError,
  LegacyWriteOutcomeUnknownError,
  bulkFailureKind,
  readErrorStack,
  type BulkUpdateFailure,
  type LostWriteRecord,
} from './errors.js';
import { compileFilter, f } from './filter.js';
import type { HttpRequest, HttpResponse } from './http.js';
import { collect } from './reads.js';
import { LONGEST_SKIP, checkUrl, chunkValues, collectionPath, defaultOrderBy, keyInPath } from './request.js';
import type { TableDef } from './tables.js';
import { classifyRecord, describeRecords, elementFailure, isPlainObject, stripStatus, summarize, type UpdateElement } from './writes.js';

/** What the write path needs of the client. */
export interface WriteContext {
  readonly settings: ClientSettings;
  readonly log: Logger;
  emit(environment: string, table: string, keys: readonly string[], outcome: WriteEvent['outcome'], rows?: readonly Row[]): Promise<void>;
}

/** An update's answer, or the failure that lost it (`notSent`: it certainly never reached 4D). */
export type WriteAnswer = { status: number; json: unknown } | { lost: LegacyAPIError; notSent: boolean };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends an update. Resolves with the parsed answer, or with `lost` when the answer never came or
 * could not be read (timeout, dropped connection, 502/504, a 2xx or 5xx body that is not JSON):
 * then `notSent` tells whether the request certainly never reached 4D. Any other failure (an answer
 * such as 503, 401 after the re-login, the licence breaker) is thrown as before: nothing was saved.
 */
export async function sendWrite(ctx: WriteContext, rt: Runtime, request: HttpRequest): Promise<WriteAnswer> {
  checkUrl(rt, ctx.settings.maxUrlBytes, request.path, request.table);
  let response: HttpResponse;
  try {
    response = await rt.sessions.send(request);
  } catch (error) {
    if (!(error instanceof LegacyAPIConnectionError)) throw error;
    // The transport tags its errors with the route of the request that failed: a failure of the
    // login (or of waiting for someone else's) means this update was never sent in that cycle, and
    // 4D answers a request sent with a dead session with 401 before processing it.
    return { lost: error, notSent: error.route !== request.route || error.notSent };
  }
  try {
    return parseAnswer(rt, request, response);
  } catch (error) {
    // 503: 4D said it did not process it. 3xx/4xx: refused before processing.
    if (response.status === 503 || (response.status >= 300 && response.status < 500)) throw error;
    if (error instanceof LegacyAPIError) return { lost: error, notSent: false };
    throw error;
  }
}

/**
 * Reads the answer of a bulk update: the saved rows in item order, and the failed items (for an
 * atomic batch, the culprits only: elements rolled back because another failed are not listed).
 */
export function readBulkAnswer(
  rt: Runtime,
  def: TableDef,
  body: readonly UpdateElement[],
  atomic: boolean,
  answer: { status: number; json: unknown },
): { saved: Row[]; failures: BulkUpdateFailure[] } {
  const { status, json } = answer;
  const elements: unknown[] = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES : Array.isArray(json) ? json : [json];
  const topStack = isPlainObject(json) && !Array.isArray(json.__ENTITIES) && body.length > 1 ? readErrorStack(json) : undefined;
  const n = body.length;
  const failures: BulkUpdateFailure[] = [];
  const saved: Row[] = [];
  if (topStack?.length) {
    // The whole batch was rejected without per-element detail.
    const reason = summarize(topStack);
    const kind = bulkFailureKind(topStack.map((e) => e.errCode));
    for (let i = 0; i < n; i++) failures.push({ index: i, key: body[i]!.__KEY, kind, errCode: topStack[0]?.errCode, reason });
    return { saved, failures };
  }
  if (elements.length !== n) {
    throw new LegacyAPIDataError(`4D answered ${elements.length} entities for a batch of ${n} ${def.name} updates`, {
      environment: rt.name,
      table: def.name,
      status,
    });
  }
  const perElement = elements.map((el) => elementFailure(el));
  // In an atomic batch, elements rolled back only because another failed carry just the generic
  // "cannot be saved" error; list the real culprits (all of them when nothing more specific exists).
  const specific = perElement.map((fl) => !!fl && fl.stack.some((e) => e.errCode !== 1517 && e.errCode !== 1534));
  const anySpecific = specific.some(Boolean);
  perElement.forEach((fl, i) => {
    if (!fl) {
      saved.push(toRow(rt, def, stripStatus(elements[i])));
      return;
    }
    if (atomic && anySpecific && !specific[i]) return;
    const element = elements[i];
    const currentStamp = isPlainObject(element) && typeof element.__STAMP === 'number' && fl.stack.some((e) => e.errCode === 1263) ? element.__STAMP : undefined;
    const kind = bulkFailureKind(fl.stack.map((e) => e.errCode));
    failures.push({ index: i, key: body[i]!.__KEY, kind, errCode: fl.stack[0]?.errCode, reason: summarize(fl.stack), currentStamp });
  });
  return { saved, failures };
}

/** The error of a bulk update with failed items, listing each (key and reason). */
export function bulkUpdateError(rt: Runtime, def: TableDef, n: number, atomic: boolean, status: number, saved: readonly Row[], failures: readonly BulkUpdateFailure[]): LegacyBulkUpdateError {
  const list = failures
    .map((fl) => `#${fl.index} key ${fl.key}: ${fl.reason}${fl.currentStamp !== undefined ? ` (current stamp ${fl.currentStamp})` : ''}`)
    .join('; ');
  const tail = atomic ? ' Atomic batch: nothing was saved.' : ` Not atomic: the other ${saved.length} item(s) were saved.`;
  return new LegacyBulkUpdateError(`Bulk update of ${n} ${def.name} entities failed for ${failures.length} item(s): ${list}.${tail}`, {
    environment: rt.name,
    table: def.name,
    status,
    failures: [...failures],
    atomic,
    saved: atomic ? [] : [...saved],
    fourDErrors: failures.length ? [{ message: failures[0]!.reason, errCode: failures[0]!.errCode }] : [],
  });
}

/**
 * Classifies a write whose answer was lost (see `writes.ts`): resolves with the re-read rows when
 * every element was saved, else throws {@link LegacyWriteNotSavedError} or
 * {@link LegacyWriteOutcomeUnknownError}. Emits one write event (`saved` with the re-read rows, or
 * `unknown`; none when nothing was saved). Never sends the write again.
 */
export async function afterLostAnswer(
  ctx: WriteContext,
  rt: Runtime,
  def: TableDef,
  sent: readonly UpdateElement[],
  atomic: boolean,
  lost: { lost: LegacyAPIError; notSent: boolean },
): Promise<Row[]> {
  const keys = sent.map((e) => e.__KEY);
  const what = sent.length === 1 ? `Update of ${def.name} ${keys[0]}` : `${atomic ? 'Atomic b' : 'B'}ulk update of ${sent.length} ${def.name} records`;
  const cause = lost.lost.message;
  const base = { environment: rt.name, table: def.name, keys, cause: lost.lost, timeout: lost.lost instanceof LegacyAPIConnectionError && lost.lost.timeout };
  if (lost.notSent) {
    const records = sent.map((e): LostWriteRecord => ({ key: e.__KEY, sentStamp: e.__STAMP, outcome: 'notSaved', reason: 'the request was never sent' }));
    throw new LegacyWriteNotSavedError(`${what} was not saved: the request never reached 4D (${cause}). It is safe to send again.`, {
      ...base,
      notSent: true,
      records,
      evidence: 'notSent',
    });
  }
  const { writeRecheckDelayMs } = ctx.settings;
  ctx.log.warn({ table: def.name, keys, cause }, 'update answer lost; reading the record(s) back to learn whether it was saved');
  await sleep(writeRecheckDelayMs);
  let current: Map<string, Row>;
  try {
    current = await reread(ctx, rt, def, keys);
  } catch (error) {
    const reason = `re-read failed: ${error instanceof Error ? error.message : String(error)}`;
    const records = sent.map((e): LostWriteRecord => ({ key: e.__KEY, sentStamp: e.__STAMP, outcome: 'unknown', reason }));
    await ctx.emit(rt.name, def.name, keys, 'unknown');
    throw new LegacyWriteOutcomeUnknownError(
      `${what}: the answer was lost (${cause}) and reading the record${sent.length > 1 ? 's' : ''} back failed, so whether it was saved is unknown. Read before sending again.`,
      { ...base, records },
    );
  }
  const records = sent.map((e) => classifyRecord(def, e, current.get(e.__KEY)));
  const count = (o: LostWriteRecord['outcome']) => records.filter((r) => r.outcome === o).length;
  const after = `${writeRecheckDelayMs} ms later`;
  if (count('saved') === sent.length) {
    ctx.log.info({ table: def.name, keys }, 'update answer lost, but the re-read shows it saved');
    const rows = keys.map((k) => current.get(k)!);
    await ctx.emit(rt.name, def.name, keys, 'saved', rows);
    return rows;
  }
  if (count('notSaved') === sent.length) {
    throw new LegacyWriteNotSavedError(
      `${what} was not saved: the answer was lost (${cause}) and ${after} the record${sent.length > 1 ? 's still have the stamps' : ' still has the stamp'} it was sent with. It is safe to send again.`,
      { ...base, records, evidence: 'stampUnchanged' },
    );
  }
  if (!atomic && count('unknown') === 0) {
    // A non-atomic batch may really be partly saved: say which items were.
    const savedKeys = records.filter((r) => r.outcome === 'saved').map((r) => r.key);
    await ctx.emit(rt.name, def.name, savedKeys, 'saved', savedKeys.map((k) => current.get(k)!));
    throw new LegacyWriteNotSavedError(
      `${what} was partly saved: the answer was lost (${cause}); ${after}: ${describeRecords(records)}. Only the items not saved are safe to send again.`,
      { ...base, records, evidence: 'stampUnchanged', savedKeys },
    );
  }
  const maybe = records.filter((r) => r.outcome !== 'notSaved').map((r) => r.key);
  await ctx.emit(rt.name, def.name, maybe, 'unknown');
  const atomicNote = atomic && count('unknown') === 0 ? ' (an atomic batch cannot be partly saved: someone else saved meanwhile)' : '';
  throw new LegacyWriteOutcomeUnknownError(
    `${what}: the answer was lost (${cause}) and whether it was saved is unknown${atomicNote}; ${after}: ${describeRecords(records)}. Read before sending again.`,
    { ...base, records },
  );
}

/** Reads records by key straight from 4D (never from a cache), for {@link afterLostAnswer}. */
async function reread(ctx: WriteContext, rt: Runtime, def: TableDef, keys: readonly string[]): Promise<Map<string, Row>> {
  const { pageSize, maxUrlBytes } = ctx.settings;
  const rows = new Map<string, Row>();
  if (keys.length === 1) {
    const key = keys[0]!;
    try {
      const json = await getJson(rt, maxUrlBytes, { path: `${encodeURIComponent(def.name)}(${keyInPath(key)})`, route: 'entity', table: def.name }, key);
      const row = toRow(rt, def, json);
      rows.set(row.__KEY, row);
    } catch (error) {
      if (!(error instanceof LegacyNotFoundError)) throw error;
    }
    return rows;
  }
  const orderBy = defaultOrderBy(def);
  const overhead =
    Buffer.byteLength(rt.http.restRoot) + collectionPath(def, { filter: { filter: '__KEY IN :1', params: [[]] }, orderBy, skip: LONGEST_SKIP, top: pageSize }).length;
  const chunks = chunkValues(keys, (k) => JSON.stringify(k), '__KEY', maxUrlBytes - overhead);
  for (const chunk of chunks) {
    const filter = compileFilter(def, f.in('__KEY', chunk));
    for (const row of await collect(ctx, rt, { def, pageSize, parallel: 1, filter, orderBy })) rows.set(row.__KEY, row);
  }
  return rows;
}
