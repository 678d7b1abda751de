/**
 * Writes: encoding and checking update elements against `tables.ts`, reading 4D's update answers,
 * and classifying a write whose answer was lost from a delayed re-read of the records.
 *
 * Lost answers (timeout, dropped connection, gateway error, unreadable answer): 4D may or may not
 * have saved the write, and replaying it could save it twice or overwrite someone else's change, so
 * the client never replays it. It waits a little (a timed-out write may still be running in 4D),
 * re-reads the records and compares each with what was sent:
 * - *saved*: the stamp moved past the one sent and every written attribute holds the value sent;
 * - *not saved*: the stamp is still the one sent (or nothing was sent at all);
 * - *unknown*: the stamp moved but some attribute holds another value (someone else saved
 *   meanwhile), the record is gone, or the re-read failed.
 * Residual risk: a write still queued inside 4D when the re-read runs is reported *not saved* and
 * may land later; `writeRecheckDelayMs` sizes that window.
 */
import { CodecError, decodeDate, encodeDate } from './codecs.js';
import {
  LegacyAPIError,
  LegacyNotFoundError,
  LegacyStampConflictError,
  LegacyValidationError,
  errorFromResponse,
  readErrorStack,
  type FourDErrorEntry,
  type LostWriteRecord,
} from './errors.js';
import { attributeNames, describe, requireTable } from './filter.js';
import { SYSTEM_ATTRIBUTES, type AttributeDef, type TableDef } from './tables.js';

/** One element of an update body, in wire format. */
export type UpdateElement = { __KEY: string; __STAMP: number } & Record<string, unknown>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function checkKey(table: TableDef, key: unknown): string {
  if (typeof key === 'number' && Number.isSafeInteger(key)) return String(key);
  if (typeof key !== 'string' || key.trim() === '' || key.length > 255 || /\p{Surrogate}|[\u0000-\u001f]/u.test(key)) {
    throw new LegacyValidationError(`Bad __KEY ${describe(key)} for ${table.name}: expected a non-empty string`, { table: table.name });
  }
  return key;
}

export function stripStatus(entity: unknown): unknown {
  if (!isPlainObject(entity)) return entity;
  const { __STATUS: _status, ...rest } = entity;
  void _status;
  return rest;
}

export function elementFailure(element: unknown): { stack: FourDErrorEntry[] } | undefined {
  if (!isPlainObject(element)) return { stack: [{ message: `unexpected update answer ${describe(element)}` }] };
  const stack = readErrorStack(element) ?? [];
  const statusFalse = isPlainObject(element.__STATUS) && element.__STATUS.success === false;
  if (!stack.length && !statusFalse) return undefined;
  if (!stack.length && isPlainObject(element.__STATUS)) {
    const s = element.__STATUS;
    stack.push({ message: typeof s.statusText === 'string' ? s.statusText : 'update failed', errCode: s.status === 2 ? 1263 : s.status === 5 ? 1542 : undefined });
  }
  return { stack };
}

export function summarize(stack: readonly FourDErrorEntry[]): string {
  const first = stack[0];
  if (!first) return 'rejected';
  return `${(first.message.split('\n')[0] ?? '').trim()}${first.errCode ? ` (4D errCode ${first.errCode})` : ''}`;
}

export function updateError(
  environment: string,
  table: TableDef,
  key: string,
  sentStamp: number,
  stack: FourDErrorEntry[],
  element: unknown,
  status: number,
): LegacyAPIError {
  const codes = stack.map((e) => e.errCode);
  const statusCode = isPlainObject(element) && isPlainObject(element.__STATUS) ? element.__STATUS.status : undefined;
  const base = { environment, table: table.name, status, fourDErrors: stack };
  if (codes.includes(1263) || statusCode === 2) {
    const { __STATUS: _s, __ERROR: _e, ...current } = isPlainObject(element) ? element : {};
    void _s;
    void _e;
    const currentStamp = typeof current.__STAMP === 'number' ? current.__STAMP : undefined;
    return new LegacyStampConflictError(
      `Stamp conflict updating ${table.name} ${key}: sent stamp ${sentStamp}, current stamp ${currentStamp ?? 'unknown'} (4D errCode 1263); nothing was saved`,
      { ...base, key, sentStamp, currentStamp, currentValues: current },
    );
  }
  if (codes.includes(1542) || codes.includes(1800) || statusCode === 5) {
    return new LegacyNotFoundError(`Cannot update ${table.name} ${key}: no such entity (${summarize(stack)})`, { ...base, key });
  }
  return errorFromResponse(`4D refused to update ${table.name} ${key}`, { status, stack, table: table.name, environment, key });
}

/** Checks and encodes one update element: `{ __KEY, __STAMP, ...changes }` in wire format. */
export function updateElement(
  table: TableDef,
  key: unknown,
  stamp: unknown,
  changes: unknown,
  prefix = '',
): { __KEY: string; __STAMP: number } & Record<string, unknown> {
  const k = checkKey(table, key);
  if (typeof stamp !== 'number' || !Number.isSafeInteger(stamp) || stamp < 0) {
    throw new LegacyValidationError(`${prefix}Bad __STAMP ${describe(stamp)} for ${table.name} ${k}: expected an integer ≥ 0`, { table: table.name });
  }
  if (!isPlainObject(changes) || Object.keys(changes).length === 0) {
    throw new LegacyValidationError(`${prefix}changes for ${table.name} ${k} must be a non-empty object of attribute → value, got ${describe(changes)}`, {
      table: table.name,
    });
  }
  const out: { __KEY: string; __STAMP: number } & Record<string, unknown> = { __KEY: k, __STAMP: stamp };
  for (const [name, value] of Object.entries(changes)) {
    if ((SYSTEM_ATTRIBUTES as readonly string[]).includes(name)) {
      throw new LegacyValidationError(`${prefix}${table.name}.${name} is a system attribute and cannot be changed`, { table: table.name });
    }
    const def = table.attributes.find((a) => a.name === name);
    if (!def) {
      throw new LegacyValidationError(
        `${prefix}Unknown attribute ${JSON.stringify(name)} in table ${table.name}. Attributes of ${table.name}: ${attributeNames(table).join(', ')}`,
        { table: table.name },
      );
    }
    out[name] = encodeChange(table, def, value, prefix);
  }
  return out;
}

/**
 * Checks one value to write against the table catalog exactly as `update` will, without a request:
 * for callers that must refuse bad input before anything else reaches the server.
 * @throws LegacyValidationError for an unknown table or attribute, a system attribute or a wrong type
 */
export function validateChange(table: string, attribute: string, value: unknown): void {
  const def = requireTable(table);
  updateElement(def, '0'.repeat(32), 0, { [attribute]: value });
}

function encodeChange(table: TableDef, def: AttributeDef, value: unknown, prefix: string): unknown {
  const fail = (expected: string): never => {
    throw new LegacyValidationError(`${prefix}Bad value ${describe(value)} for ${table.name}.${def.name}: expected ${expected}`, { table: table.name });
  };
  if (value === undefined) return fail('a value (undefined is not allowed; use null to clear)');
  if (value === null) return def.type === 'date' ? encodeDate(null) : null;
  switch (def.type) {
    case 'string':
      if (typeof value !== 'string') return fail('a string');
      if (/\p{Surrogate}/u.test(value)) return fail('well-formed Unicode text');
      return value;
    case 'long':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail('an integer');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail('a finite number');
    case 'bool':
      return typeof value === 'boolean' ? value : fail('a boolean');
    case 'date':
      if (!(value instanceof Date) && typeof value !== 'string') return fail('an ISO date YYYY-MM-DD, a Date or null');
      try {
        return encodeDate(value);
      } catch (error) {
        if (error instanceof CodecError) return fail('an ISO date YYYY-MM-DD, a Date or null');
        throw error;
      }
    case 'object': {
      if (!isPlainObject(value) && !Array.isArray(value)) return fail('a JSON object');
      try {
        return JSON.parse(JSON.stringify(value));
      } catch {
        return fail('a JSON-serialisable object');
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Lost answers

/** Whether the value read back equals the value sent, by the attribute's type (dates by calendar day, objects structurally). */
export function sameWireValue(def: AttributeDef, sent: unknown, current: unknown): boolean {
  switch (def.type) {
    case 'date':
      try {
        return decodeDate(sent) === decodeDate(current);
      } catch (error) {
        if (error instanceof CodecError) return false;
        throw error;
      }
    case 'object':
      return canonicalJson(sent) === canonicalJson(current);
    case 'string':
      // 4D text fields hold no null: a null written reads back as the empty text.
      if ((sent === null || sent === '') && (current === null || current === '')) return true;
      return sent === current;
    default:
      return sent === current;
  }
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}

/**
 * Compares one sent element with the record re-read after a lost answer (`undefined`: not found).
 * See the module comment for the three outcomes.
 */
export function classifyRecord(table: TableDef, sent: UpdateElement, current: Record<string, unknown> | undefined): LostWriteRecord {
  const base = { key: sent.__KEY, sentStamp: sent.__STAMP };
  if (!current) return { ...base, outcome: 'unknown', reason: 'the record was not found when read back (deleted meanwhile?)' };
  const currentStamp = typeof current.__STAMP === 'number' ? current.__STAMP : undefined;
  if (currentStamp === undefined) return { ...base, outcome: 'unknown', reason: 'the record read back has no __STAMP' };
  if (currentStamp === sent.__STAMP) {
    return { ...base, currentStamp, outcome: 'notSaved', reason: `stamp still ${currentStamp}, the stamp the write was sent with` };
  }
  if (currentStamp < sent.__STAMP) {
    return { ...base, currentStamp, outcome: 'unknown', reason: `stamp ${currentStamp} is below the ${sent.__STAMP} sent` };
  }
  const differing = Object.keys(sent)
    .filter((name) => name !== '__KEY' && name !== '__STAMP')
    .filter((name) => {
      const def = table.attributes.find((a) => a.name === name);
      return !def || !sameWireValue(def, sent[name], current[name]);
    });
  if (differing.length === 0) {
    const others = currentStamp > sent.__STAMP + 1 ? ' (and saved again since)' : '';
    return { ...base, currentStamp, outcome: 'saved', reason: `stamp moved from ${sent.__STAMP} to ${currentStamp}${others} and every written attribute holds the value sent` };
  }
  return {
    ...base,
    currentStamp,
    outcome: 'unknown',
    reason: `stamp moved from ${sent.__STAMP} to ${currentStamp} but ${differing.join(', ')} ${differing.length === 1 ? 'holds' : 'hold'} another value: someone else saved meanwhile`,
  };
}

/** One line per record for a message: `KEY: reason`. */
export function describeRecords(records: readonly LostWriteRecord[]): string {
  return records.map((r) => (records.length === 1 ? r.reason : `${r.key}: ${r.reason}`)).join('; ');
}
