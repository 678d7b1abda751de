/**
 * `$method=update` (create/update, single or batch, `$atomic`), `$method=validate` and
 * `$method=delete` (protocol reference §4).
 *
 * Every update answer is HTTP 200; success or failure is per entity in `__STATUS` / `__ERROR`.
 */
import { GLOBAL_STAMP, globalStampOf, type EmulatorTable, type Row } from '../data/store.js';
import type { AttributeDef } from '../../legacy/tables.js';
import { entityUri, requireTable, type HandlerContext } from './context.js';
import { ErrCode, fourDError, RestError, type FourDError } from './errors.js';
import { findByAttribute, selectRows } from './read.js';
import { checkValue } from './values.js';

/** Metadata properties a client may echo back in an update body; they are ignored. */
const IGNORED_META = new Set(['__TIMESTAMP', '__entityModel', '__DATACLASS', '__STATUS', '__ERROR']);

type Plan =
  | { kind: 'create'; values: Record<string, unknown> }
  | { kind: 'update'; key: string; changes: Record<string, unknown> }
  | { kind: 'error'; response: Record<string, unknown> };

/** Parses a JSON request body or throws 500/1806. */
export function parseJsonBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === '') {
    throw RestError.of(500, ErrCode.malformedUrl, 'The request body is empty: expected a JSON object or array');
  }
  try {
    return JSON.parse(body);
  } catch (e) {
    throw RestError.of(500, ErrCode.malformedUrl, `The request body is not valid JSON: ${(e as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function failure(status: number, statusText: string, errors: FourDError[], key?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { __STATUS: { status, statusText, success: false } };
  if (key !== undefined) out.__KEY = key;
  out.__ERROR = errors;
  return out;
}

function cannotSave(table: EmulatorTable, key: string | undefined): FourDError {
  return key === undefined
    ? fourDError(ErrCode.newEntityCannotBeSaved, `The new entity in the "${table.def.name}" dataclass cannot be saved`)
    : fourDError(ErrCode.entityCannotBeSaved, `The entity# ${key} in the "${table.def.name}" dataclass cannot be saved`);
}

/** Current values of an entity, in the order of a save response. */
function savedEntity(ctx: HandlerContext, table: EmulatorTable, row: Row): Record<string, unknown> {
  const key = String(row.__KEY);
  const out: Record<string, unknown> = {
    __KEY: key,
    __STAMP: row.__STAMP,
    uri: entityUri(ctx.version, table.def.name, key),
    __TIMESTAMP: row.__TIMESTAMP,
  };
  for (const a of table.def.attributes) out[a.name] = row[a.name] === undefined ? null : row[a.name];
  if (table.tracked) out[GLOBAL_STAMP] = globalStampOf(row);
  return out;
}

function recordNumber(table: EmulatorTable, key: string): number {
  return table.rows().findIndex((r) => String(r.__KEY) === key);
}

/**
 * Checks one element of an update body against the table and the current (or, inside an atomic
 * batch, simulated) stamps. Nothing is written here.
 */
function plan(ctx: HandlerContext, table: EmulatorTable, element: unknown, stampOverride: Map<string, number>): Plan {
  if (!isPlainObject(element)) {
    return {
      kind: 'error',
      response: failure(4, 'Other error', [fourDError(ErrCode.malformedUrl, `Each entity of an update body must be a JSON object, got ${JSON.stringify(element)}`)]),
    };
  }
  let key: string | undefined;
  const rawKey = element.__KEY;
  if (rawKey !== undefined && rawKey !== null) {
    if (typeof rawKey !== 'string' && typeof rawKey !== 'number') {
      return { kind: 'error', response: failure(4, 'Other error', [fourDError(ErrCode.malformedUrl, `__KEY must be a string or a number, got ${JSON.stringify(rawKey)}`)]) };
    }
    key = String(rawKey);
  }
  const rawStamp = element.__STAMP;
  let stamp: number | undefined;
  if (rawStamp !== undefined && rawStamp !== null) {
    if (typeof rawStamp !== 'number' || !Number.isInteger(rawStamp)) {
      return { kind: 'error', response: failure(4, 'Other error', [fourDError(ErrCode.malformedUrl, `__STAMP must be an integer, got ${JSON.stringify(rawStamp)}`)], key) };
    }
    stamp = rawStamp;
  }

  const values: Record<string, unknown> = {};
  const errors: FourDError[] = [];
  for (const [name, value] of Object.entries(element)) {
    if (name === '__KEY' || name === '__STAMP' || IGNORED_META.has(name)) continue;
    if (name === GLOBAL_STAMP && table.tracked) continue; // maintained by 4D: an echoed value is ignored
    const def: AttributeDef | undefined = table.def.attributes.find((a) => a.name === name);
    if (!def) {
      errors.push(fourDError(ErrCode.attributeNotFound, `The "${name}" attribute cannot be found in the "${table.def.name}" datastore class`));
      continue;
    }
    const checked = checkValue(def, value);
    if (!checked.ok) {
      errors.push(fourDError(ErrCode.validationFailed, `Wrong value for the "${name}" attribute (${def.type}) of the "${table.def.name}" dataclass: expected ${checked.expected}, got ${JSON.stringify(value)}`));
      continue;
    }
    values[name] = checked.value;
  }

  let current: Row | undefined;
  if (key !== undefined) {
    current = table.get(key);
    if (!current) {
      return {
        kind: 'error',
        response: failure(5, 'Entity does not exist anymore', [fourDError(ErrCode.keyNotFound, `Cannot find entity with "${key}" key in the "${table.def.name}" dataclass`)], key),
      };
    }
  }
  if (errors.length > 0) return { kind: 'error', response: failure(4, 'Other error', [...errors, cannotSave(table, key)], key) };
  if (key === undefined || !current) return { kind: 'create', values };

  const currentStamp = stampOverride.get(key) ?? current.__STAMP;
  if (stamp !== undefined && stamp !== currentStamp) {
    const rec = recordNumber(table, key);
    const { uri: _uri, ...entity } = savedEntity(ctx, table, current);
    void _uri;
    return {
      kind: 'error',
      response: {
        __STATUS: { status: 2, statusText: 'Stamp has changed', success: false },
        ...entity,
        __STAMP: currentStamp,
        __ERROR: [
          fourDError(ErrCode.stampChanged, `Given stamp does not match current one for record# ${rec} of table ${table.def.name}`),
          fourDError(ErrCode.cannotSaveRecord, `Cannot save record ${rec} in table ${table.def.name} of database WSZ-DB`),
          fourDError(ErrCode.entityCannotBeSaved, `The entity# ${key} in the "${table.def.name}" dataclass cannot be saved`),
        ],
      },
    };
  }
  return { kind: 'update', key, changes: values };
}

function apply(ctx: HandlerContext, table: EmulatorTable, p: Plan & { kind: 'create' | 'update' }): Record<string, unknown> {
  const now = new Date(ctx.now());
  try {
    const row = p.kind === 'create' ? table.insert(p.values, now) : table.update(p.key, p.changes, now);
    ctx.counters.updates++;
    return { __STATUS: { success: true }, ...savedEntity(ctx, table, row) };
  } catch (e) {
    const key = p.kind === 'update' ? p.key : undefined;
    return failure(4, 'Other error', [fourDError(ErrCode.cannotSaveRecord, (e as Error).message), cannotSave(table, key)], key);
  }
}

/** Splits an update body into its elements; `batch` tells whether the answer is `{ __ENTITIES: [...] }`. */
function elementsOf(body: unknown): { elements: unknown[]; batch: boolean } {
  if (Array.isArray(body)) return { elements: body, batch: true };
  if (isPlainObject(body) && Array.isArray(body.__ENTITIES)) return { elements: body.__ENTITIES, batch: true };
  if (isPlainObject(body)) return { elements: [body], batch: false };
  throw RestError.of(500, ErrCode.malformedUrl, `An update body must be a JSON object or an array of objects, got ${JSON.stringify(body)}`);
}

/** `POST /rest/{dc}?$method=update` (and `validate` when `dryRun`). */
export function postUpdate(ctx: HandlerContext, dataClass: string, body: unknown, dryRun = false): unknown {
  const table = requireTable(ctx.db, dataClass);
  const { elements, batch } = elementsOf(body);
  const atomic = ctx.params.flag('$atomic') || ctx.params.flag('$atOnce');

  let responses: Record<string, unknown>[];
  if (atomic || dryRun) {
    // Validate everything first against simulated stamps, so that two updates of one entity in the
    // same batch behave as they would when applied in order.
    const simulated = new Map<string, number>();
    const plans = elements.map((el) => {
      const p = plan(ctx, table, el, simulated);
      if (p.kind === 'update') simulated.set(p.key, (simulated.get(p.key) ?? table.get(p.key)!.__STAMP) + 1);
      return p;
    });
    const failed = plans.some((p) => p.kind === 'error');
    if (dryRun) {
      if (!failed) return { ok: true };
      return { __ENTITIES: plans.map((p) => (p.kind === 'error' ? p.response : { __STATUS: { success: true } })) };
    }
    if (failed) {
      responses = plans.map((p) =>
        p.kind === 'error'
          ? p.response
          : failure(4, 'Other error', [
              fourDError(ErrCode.entityCannotBeSaved, `The entity cannot be saved: the $atomic batch was rolled back because another entity failed`),
            ], p.kind === 'update' ? p.key : undefined),
      );
    } else {
      responses = plans.map((p) => (p.kind === 'error' ? p.response : apply(ctx, table, p)));
    }
  } else {
    responses = elements.map((el) => {
      const p = plan(ctx, table, el, new Map());
      return p.kind === 'error' ? p.response : apply(ctx, table, p);
    });
  }
  return batch ? { __ENTITIES: responses } : responses[0];
}

/** `POST /rest/{dc}(key)?$method=delete`. */
export function deleteEntity(ctx: HandlerContext, dataClass: string, key: string): unknown {
  const table = requireTable(ctx.db, dataClass);
  if (!table.get(key) || !table.delete(key, new Date(ctx.now()))) {
    throw RestError.of(404, ErrCode.entityNotFound, `Cannot find entity with "${key}" key in the "${table.def.name}" dataclass`);
  }
  return { ok: true };
}

/** `POST /rest/{dc}:{attr}(value)?$method=delete`. */
export function deleteEntityByAttribute(ctx: HandlerContext, dataClass: string, attribute: string, value: string): unknown {
  const table = requireTable(ctx.db, dataClass);
  const row = findByAttribute(ctx, table, attribute, value);
  table.delete(String(row.__KEY), new Date(ctx.now()));
  return { ok: true };
}

/**
 * `POST /rest/{dc}?$filter=…&$method=delete` (without `$filter`: the whole dataclass, as on a real
 * server) and `POST /rest/{dc}/$entityset/{id}?$method=delete`.
 */
export function deleteSelection(ctx: HandlerContext, dataClass: string, entitySetId?: string): unknown {
  const table = requireTable(ctx.db, dataClass);
  let keys: string[];
  if (entitySetId !== undefined) {
    const set = ctx.entitySets.use(entitySetId);
    if (!set || set.dataClass !== table.def.name) {
      throw RestError.of(404, ErrCode.entitySetNotFound, `The entity set "${entitySetId}" cannot be found`);
    }
    keys = [...set.keys];
  } else {
    keys = selectRows(ctx, table).rows.map((r) => String(r.__KEY));
  }
  const now = new Date(ctx.now());
  for (const k of keys) table.delete(k, now);
  return { ok: true };
}
