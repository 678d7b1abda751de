/**
 * Maps a request path to a REST target, and a target (plus `$method` and HTTP verb) to the stable
 * route name used in counters.
 *
 * Paths are parsed on the raw (still percent-encoded) text so that an encoded `/`, `(` or `)` inside
 * a key cannot change the structure; each piece is decoded afterwards.
 */
import { ErrCode, RestError } from './errors.js';
import { decodeComponent, stripQuotes } from './params.js';

/** Stable route names, as reported in `counters.byRoute`. */
export const ROUTE_NAMES = [
  'info', 'catalog', 'catalogTable', 'collection', 'entity', 'entityByAttribute', 'update', 'delete',
  'login', 'logout', 'currentUser', 'entityset', 'notFound',
] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

export type Target =
  | { kind: 'info' }
  | { kind: 'catalog'; all: boolean }
  | { kind: 'catalogTable'; dataClass: string }
  | { kind: 'login' }
  | { kind: 'logout' }
  | { kind: 'currentUser' }
  /** `/rest/{dc}`, `/rest/{dc}/{a,b}`, `/rest/{dc}/$entityset/{id}`, `/rest/{dc}/{a,b}/$entityset/{id}` */
  | { kind: 'dataClass'; dataClass: string; attributes?: string[]; entitySetId?: string }
  /** `/rest/{dc}(key)`, `/rest/{dc}[key]`, optionally followed by `/{a,b}` */
  | { kind: 'entity'; dataClass: string; key: string; attributes?: string[] }
  /** `/rest/{dc}:{attr}(value)`, optionally followed by `/{a,b}` */
  | { kind: 'entityByAttribute'; dataClass: string; attribute: string; value: string; attributes?: string[] }
  | { kind: 'notFound'; reason: string };

/** Splits `req.url` into raw path and raw query (no decoding). */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  const beforeHash = (s: string): string => {
    const h = s.indexOf('#');
    return h < 0 ? s : s.slice(0, h);
  };
  if (q < 0) return { path: beforeHash(url), query: '' };
  return { path: url.slice(0, q), query: beforeHash(url.slice(q + 1)) };
}

/** `a,b` or `{a,b}` → `['a','b']` (empty names dropped). */
function parseAttributeSegment(raw: string): string[] {
  let s = decodeComponent(raw, 'attribute list');
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  return s.split(',').map((a) => a.trim()).filter((a) => a !== '');
}

const ENTITY_SEGMENT = /^([^([:]+)(?:\((.*)\)|\[(.*)\]|:([^(]+)\((.*)\))$/s;

/** Parses the first path segment after `/rest/` that names a dataclass, possibly with a key or attribute lookup. */
function parseDataSegment(raw: string): { dataClass: string; key?: string; attribute?: string; value?: string } | undefined {
  let m = ENTITY_SEGMENT.exec(raw);
  if (!m && /%(28|29|5B|5D|3A)/i.test(raw)) {
    // A client that percent-encoded the key delimiters themselves: decode the segment first.
    m = ENTITY_SEGMENT.exec(decodeComponent(raw, 'path'));
    if (m) return fromMatch(m, false);
  }
  if (m) return fromMatch(m, true);
  if (/[()[\]]/.test(raw)) return undefined;
  return { dataClass: decodeComponent(raw, 'dataclass name') };

  function fromMatch(match: RegExpExecArray, decode: boolean): { dataClass: string; key?: string; attribute?: string; value?: string } {
    const dec = (s: string, what: string): string => (decode ? decodeComponent(s, what) : s);
    const dataClass = dec(match[1], 'dataclass name');
    if (match[2] !== undefined) return { dataClass, key: stripQuotes(dec(match[2], 'key')) };
    if (match[3] !== undefined) return { dataClass, key: stripQuotes(dec(match[3], 'key')) };
    return { dataClass, attribute: dec(match[4], 'attribute name'), value: stripQuotes(dec(match[5], 'attribute value')) };
  }
}

/** Parses a raw request path into a {@link Target}. */
export function parseRestPath(rawPath: string): Target {
  if (rawPath !== '/rest' && !rawPath.startsWith('/rest/')) return { kind: 'notFound', reason: 'not under /rest/' };
  const segments = rawPath.slice('/rest/'.length).split('/');
  // A trailing slash (`/rest/Kunden/{a,b}/?$filter=…`, `/rest/$catalog/`) is insignificant.
  while (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  if (segments.length === 0) return { kind: 'notFound', reason: 'empty REST path' };
  const head = decodeComponent(segments[0], 'path');

  switch (head) {
    case '$info':
      return segments.length === 1 ? { kind: 'info' } : { kind: 'notFound', reason: 'unknown $info resource' };
    case '$catalog': {
      if (segments.length === 1) return { kind: 'catalog', all: false };
      if (segments.length === 2) {
        const second = decodeComponent(segments[1], 'path');
        return second === '$all' ? { kind: 'catalog', all: true } : { kind: 'catalogTable', dataClass: second };
      }
      return { kind: 'notFound', reason: 'unknown $catalog resource' };
    }
    case '$directory': {
      const second = segments.length === 2 ? decodeComponent(segments[1], 'path') : '';
      if (second === 'login') return { kind: 'login' };
      if (second === 'logout') return { kind: 'logout' };
      if (second === 'currentUser') return { kind: 'currentUser' };
      return { kind: 'notFound', reason: 'unknown $directory resource' };
    }
    default:
      break;
  }
  if (head.startsWith('$')) return { kind: 'notFound', reason: `unknown REST resource ${head}` };

  const first = parseDataSegment(segments[0]);
  if (!first) return { kind: 'notFound', reason: 'malformed entity path' };
  const rest = segments.slice(1);

  if (first.key !== undefined || first.attribute !== undefined) {
    if (rest.length > 1) return { kind: 'notFound', reason: 'unsupported entity sub-resource' };
    const attributes = rest.length === 1 ? parseAttributeSegment(rest[0]) : undefined;
    return first.key !== undefined
      ? { kind: 'entity', dataClass: first.dataClass, key: first.key, attributes }
      : { kind: 'entityByAttribute', dataClass: first.dataClass, attribute: first.attribute!, value: first.value!, attributes };
  }

  let attributes: string[] | undefined;
  let i = 0;
  if (rest[i] !== undefined && decodeComponent(rest[i], 'path') !== '$entityset') {
    attributes = parseAttributeSegment(rest[i]);
    i++;
  }
  let entitySetId: string | undefined;
  if (rest[i] !== undefined) {
    if (decodeComponent(rest[i], 'path') !== '$entityset' || rest[i + 1] === undefined) {
      return { kind: 'notFound', reason: 'unsupported dataclass sub-resource' };
    }
    entitySetId = decodeComponent(rest[i + 1], 'entity set id');
    i += 2;
  }
  if (i < rest.length) return { kind: 'notFound', reason: 'unsupported dataclass sub-resource' };
  return { kind: 'dataClass', dataClass: first.dataClass, attributes, entitySetId };
}

/** The counter name of a request. `$method` decides between read, update, delete and entity-set routes. */
export function routeName(target: Target, method: string | undefined): RouteName {
  switch (target.kind) {
    case 'info':
      return 'info';
    case 'catalog':
      return 'catalog';
    case 'catalogTable':
      return 'catalogTable';
    case 'login':
    case 'logout':
    case 'currentUser':
      return target.kind;
    case 'notFound':
      return 'notFound';
    case 'entity':
    case 'entityByAttribute':
      if (method === 'delete') return 'delete';
      if (method === 'update') return 'update';
      return target.kind;
    case 'dataClass':
      if (method === 'update' || method === 'validate') return 'update';
      if (method === 'delete') return 'delete';
      if (method === 'entityset' || method === 'release' || target.entitySetId !== undefined) return 'entityset';
      return 'collection';
  }
}

/** Throws 1806 when a `$method` value is not one the emulator knows. */
export function assertKnownMethod(method: string | undefined): void {
  if (method === undefined) return;
  if (!['entityset', 'release', 'update', 'delete', 'validate', 'subentityset'].includes(method)) {
    throw RestError.of(500, ErrCode.unknownMethod, `Unknown REST method "$method=${method}"`);
  }
}
