/**
 * `fetchAll` as a stream of pages: one query on the server, a fixed membership, one page in memory.
 *
 * With entity sets (the default): the first request runs the query with `$method=entityset` and
 * brings the first page; the others page through `{dc}/$entityset/{id}?$skip&$top` (protocol
 * reference §2.9, §7). Entities deleted meanwhile come back as `{ "__STAMP": 0 }` holes and are
 * skipped (counted in {@link PullPage.holes}). The set is released (`$method=release`) when the
 * pull ends, fails or is abandoned (a `for await` left early, an aborted signal).
 *
 * An entity set that 4D no longer knows (expired, or gone with a server restart: 404, errCode 1802)
 * is re-created with the same query, starting one row before the position reached: when the new set
 * has the same `__COUNT` and that row is the last one delivered, membership is taken as unchanged
 * and the pull goes on without a gap or a repeat; otherwise it fails with
 * {@link LegacyEntitySetExpiredError} naming the set and the position.
 *
 * A server that refuses entity sets (errCode 1812/1813 on the first request) is paged with
 * `$skip`/`$top` on the same order plus `__KEY` (a total order); each page re-runs the query, so rows
 * are de-duplicated by `__KEY` and a changed `__COUNT` is logged.
 *
 * Every request goes through {@link getJson}: URL budget, the shared session (licence, re-login),
 * retries and the breaker, like every other read.
 */
import { getJson, parseCollection } from './answers.js';
import type { FetchAllOptions, Row } from './client-types.js';
import type { Runtime } from './environment.js';
import { LegacyAPIDataError, LegacyAPIError, LegacyNotFoundError, LegacyValidationError, type LegacyErrorDetails } from './errors.js';
import { describe } from './filter.js';
import { buildQuery } from './http.js';
import type { CollectQuery, ReadContext } from './reads.js';
import { LONGEST_SKIP, checkUrl, collectionPath } from './request.js';
import { isPlainObject } from './writes.js';

/** One page of a pull. */
export interface PullPage {
  /** The live rows of the page, in order (holes of deleted entities left out). */
  readonly rows: Row[];
  /** `__COUNT`: the size of the selection (of the entity set: deleted entities included). */
  readonly total: number;
  /** Position after this page: rows and holes delivered so far. */
  readonly position: number;
  /** Holes (`{ "__STAMP": 0 }`) skipped in this page. */
  readonly holes: number;
  /** How the pages are read: through an entity set, or by ordered `$skip`/`$top`. */
  readonly paging: 'entityset' | 'ordered';
}

/** errCodes with which a server refuses `$method=entityset` (unknown / not applicable method). */
const REFUSED = new Set([1812, 1813]);
/** errCode of an entity set 4D does not know (expired, released, server restarted). */
const UNKNOWN_SET = 1802;
/** Entity sets of a pull live this long after their last use (4D's default is 7200). */
export const PULL_TIMEOUT_SECONDS = 600;
/** Longest entity set id checked against the URL budget (4D ids are 32 hex digits). */
const LONGEST_ID = 'F'.repeat(64);

/** The entity set of a pull is gone and could not be re-created with the same membership. */
export class LegacyEntitySetExpiredError extends LegacyAPIDataError {
  override name = 'LegacyEntitySetExpiredError';
  /** The id of the set 4D no longer knows. */
  readonly entitySet: string;
  /** Rows (and holes) delivered before it was found gone. */
  readonly position: number;
  constructor(message: string, details: LegacyErrorDetails & { entitySet: string; position: number }) {
    super(message, details);
    this.entitySet = details.entitySet;
    this.position = details.position;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), entitySet: this.entitySet, position: this.position };
  }
}

/** A planned pull: the query of {@link CollectQuery} plus how to page. */
export interface PullPlan extends CollectQuery {
  readonly paging: 'entityset' | 'ordered';
  readonly timeoutSeconds: number;
  readonly signal?: AbortSignal;
}

/** Checks the pull's own options and every URL it may send (creation, set pages, ordered pages). */
export function planPull(ctx: ReadContext, rt: Runtime, q: CollectQuery, options: FetchAllOptions): PullPlan {
  const paging = options.paging ?? 'entityset';
  if (paging !== 'entityset' && paging !== 'ordered') {
    throw new LegacyValidationError(`paging must be 'entityset' or 'ordered', got ${describe(paging)}`, { table: q.def.name });
  }
  const timeoutSeconds = options.entitySetTimeoutSeconds ?? PULL_TIMEOUT_SECONDS;
  if (!Number.isSafeInteger(timeoutSeconds) || timeoutSeconds < 1) {
    throw new LegacyValidationError(`entitySetTimeoutSeconds must be an integer ≥ 1, got ${describe(timeoutSeconds)}`, { table: q.def.name });
  }
  const plan: PullPlan = { ...q, paging, timeoutSeconds, signal: options.signal };
  for (const path of [creationPath(plan, LONGEST_SKIP), setPagePath(plan, LONGEST_ID, LONGEST_SKIP), orderedPath(plan, LONGEST_SKIP)]) {
    checkUrl(rt, ctx.settings.maxUrlBytes, path, q.def.name, q.filter);
  }
  return plan;
}

function creationPath(p: PullPlan, skip: number): string {
  const path = collectionPath(p.def, { filter: p.filter, orderBy: p.orderBy, attributes: p.attributes, skip, top: p.pageSize });
  return `${path}&${buildQuery([['$method', 'entityset'], ['$timeout', p.timeoutSeconds]]).slice(1)}`;
}

function setPagePath(p: PullPlan, id: string, skip: number): string {
  const query = buildQuery([['$attributes', p.attributes], ['$skip', skip], ['$top', p.pageSize]]);
  return `${encodeURIComponent(p.def.name)}/$entityset/${encodeURIComponent(id)}${query}`;
}

/** The caller's (or natural) order with `__KEY` last: a total order, so `$skip`/`$top` pages do not overlap. */
function orderedPath(p: PullPlan, skip: number): string {
  const orderBy = /(^|,)\s*__KEY(\s|,|$)/.test(p.orderBy) ? p.orderBy : `${p.orderBy},__KEY asc`;
  return collectionPath(p.def, { filter: p.filter, orderBy, attributes: p.attributes, skip, top: p.pageSize });
}

/** The entity set id of an envelope's `__ENTITYSET` URI. */
function entitySetId(rt: Runtime, p: PullPlan, json: unknown): string {
  const uri = isPlainObject(json) ? json.__ENTITYSET : undefined;
  const id = typeof uri === 'string' ? /\/\$entityset\/([^/?#]+)/.exec(uri)?.[1] : undefined;
  if (!id) throw new LegacyAPIDataError(`4D created no entity set for ${p.def.name} (no __ENTITYSET in its answer)`, { environment: rt.name, table: p.def.name });
  return decodeURIComponent(id);
}

/** Entities of an answer: holes counted and left out, the others as rows. */
function splitHoles(rt: Runtime, p: PullPlan, json: unknown): { page: ReturnType<typeof parseCollection>; holes: number; entities: number } {
  const list = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES : undefined;
  const live = list?.filter((e) => !(isPlainObject(e) && e.__KEY === undefined && e.__STAMP === 0));
  const page = parseCollection(rt, p.def, list && live ? { ...json as object, __ENTITIES: live } : json);
  return { page, holes: (list?.length ?? 0) - (live?.length ?? 0), entities: list?.length ?? 0 };
}

const isCode = (error: unknown, codes: Set<number> | number): error is LegacyAPIError =>
  error instanceof LegacyAPIError && error.errCodes.some((c) => (typeof codes === 'number' ? c === codes : codes.has(c)));

/** The pages of a pull, one request each, the next requested only when the consumer asks for it. */
export async function* pullPages(ctx: ReadContext, rt: Runtime, p: PullPlan): AsyncGenerator<PullPage, void, undefined> {
  const fetchPath = (path: string) => get(rt, ctx, p, path);
  const where = { environment: rt.name, table: p.def.name };
  let paging = p.paging;
  let id: string | undefined;
  let total = 0;
  let position = 0;
  let lastKey: string | undefined;
  let warnedShort = false;
  try {
    let json: unknown;
    if (paging === 'entityset') {
      try {
        json = await fetchPath(creationPath(p, 0));
        id = entitySetId(rt, p, json);
      } catch (error) {
        if (!isCode(error, REFUSED)) throw error;
        ctx.log.warn({ ...where, errCode: (error as LegacyAPIError).errCode }, 'fetchAll: 4D refuses entity sets; paging by $orderby with __KEY');
        paging = 'ordered';
      }
    }
    const ordered = new Set<string>();
    if (paging === 'ordered') json = await fetchPath(orderedPath(p, 0));
    for (;;) {
      const { page, holes, entities } = splitHoles(rt, p, json);
      if (position === 0) total = page.total;
      else if (page.total !== total && paging === 'ordered') {
        ctx.log.warn({ ...where, expected: total, now: page.total }, 'fetchAll: the selection changed between pages');
      }
      let rows = page.rows;
      if (paging === 'ordered') {
        rows = rows.filter((r) => !ordered.has(r.__KEY));
        for (const r of rows) ordered.add(r.__KEY);
      }
      position += entities;
      if (page.rows.length) lastKey = page.rows[page.rows.length - 1]!.__KEY;
      yield { rows, total, position, holes, paging };
      if (position >= page.total || (paging === 'ordered' && entities === 0)) return;
      if (entities === 0) throw new LegacyAPIDataError(`4D sent no rows of ${p.def.name} at ${position} although __COUNT is ${page.total}`, where);
      if (entities < p.pageSize && !warnedShort) {
        warnedShort = true;
        ctx.log.warn({ ...where, pageSize: p.pageSize, sent: entities }, 'fetchAll: 4D caps $top; paging by the rows it sends');
      }
      if (p.signal?.aborted) return;
      if (paging === 'ordered') {
        json = await fetchPath(orderedPath(p, position));
        continue;
      }
      try {
        json = await fetchPath(setPagePath(p, id!, position));
      } catch (error) {
        if (!isCode(error, UNKNOWN_SET)) throw error;
        const gone = id!;
        id = undefined;
        ({ json, id } = await renew(ctx, rt, p, { gone, position, total, lastKey }));
      }
    }
  } finally {
    if (id !== undefined) await release(ctx, rt, p, id);
  }
}

/**
 * Re-creates an entity set 4D no longer knows, from one row before `position`: the answer, less that
 * row, is the next page when the membership is unchanged (same `__COUNT`, same row at the boundary).
 */
async function renew(
  ctx: ReadContext,
  rt: Runtime,
  p: PullPlan,
  state: { gone: string; position: number; total: number; lastKey: string | undefined },
): Promise<{ json: unknown; id: string }> {
  const where = { environment: rt.name, table: p.def.name };
  const fail = (why: string) =>
    new LegacyEntitySetExpiredError(
      `The entity set ${state.gone} of ${p.def.name} expired or was dropped by 4D after ${state.position} of ${state.total} rows, and ${why}; nothing after row ${state.position} was read. Run the pull again`,
      { ...where, entitySet: state.gone, position: state.position },
    );
  if (state.lastKey === undefined) throw fail('no row read so far identifies the position in a new set');
  const json = await get(rt, ctx, p, creationPath(p, state.position - 1));
  const id = entitySetId(rt, p, json);
  const page = parseCollection(rt, p.def, json);
  if (page.total !== state.total || page.rows[0]?.__KEY !== state.lastKey) {
    await release(ctx, rt, p, id);
    throw fail(`its query now selects ${page.total === state.total ? 'other rows at that position' : `${page.total} rows instead of ${state.total}`}`);
  }
  ctx.log.info({ ...where, gone: state.gone, position: state.position }, 'fetchAll: entity set expired; re-created with the same membership');
  const list = (json as { __ENTITIES: unknown[] }).__ENTITIES;
  return { json: { ...(json as object), __ENTITIES: list.slice(1), __FIRST: state.position }, id };
}

function get(rt: Runtime, ctx: ReadContext, p: PullPlan, path: string): Promise<unknown> {
  return getJson(rt, ctx.settings.maxUrlBytes, { path, route: 'collection', table: p.def.name });
}

/** `$method=release`; an unknown set counts as released, other failures are logged (never thrown). */
async function release(ctx: ReadContext, rt: Runtime, p: PullPlan, id: string): Promise<void> {
  try {
    await get(rt, ctx, p, `${encodeURIComponent(p.def.name)}/$entityset/${encodeURIComponent(id)}?$method=release`);
  } catch (error) {
    if (error instanceof LegacyNotFoundError || isCode(error, UNKNOWN_SET)) return;
    ctx.log.warn({ environment: rt.name, table: p.def.name, entitySet: id, err: error instanceof Error ? error.message : String(error) }, 'fetchAll: could not release the entity set');
  }
}
