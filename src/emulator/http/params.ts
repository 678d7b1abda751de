/**
 * Query-string handling for 4D REST `$` parameters.
 *
 * Parsed by hand on purpose: `URLSearchParams` turns `+` into a space, which a 4D server does not
 * (a filter such as `Preis>1+1` must arrive intact). Each name and value is decoded with
 * `decodeURIComponent`, so `%23` (#), `%26` (&) and `%25` (%) round-trip.
 */
import { ErrCode, RestError } from './errors.js';

/** Every REST keyword a 4D server knows (v18–v21). Anything else starting with `$` is error 1811. */
export const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  '$filter', '$params', '$orderby', '$top', '$limit', '$skip', '$attributes', '$method', '$timeout',
  '$atomic', '$atOnce', '$expand', '$distinct', '$compute', '$savedfilter', '$savedorderby', '$asArray',
  '$queryplan', '$querypath', '$lock', '$imageformat', '$version', '$binary', '$format', '$logicOperator',
  '$operator', '$otherCollection', '$subOrderby', '$progress4Dinfo', '$clean', '$rawPict',
]);

/**
 * Keywords the emulator accepts but ignores because they only affect pictures, BLOBs, output format
 * or diagnostics, none of which the WSZ tables use.
 */
export const IGNORED_KEYWORDS: ReadonlySet<string> = new Set([
  '$expand', '$imageformat', '$version', '$binary', '$format', '$progress4Dinfo', '$queryplan', '$querypath',
  '$savedfilter', '$savedorderby', '$rawPict',
]);

/** Removes one matching outer pair of `"…"` or `'…'`. */
export function stripQuotes(value: string): string {
  if (value.length >= 2) {
    const first = value[0];
    if ((first === '"' || first === "'") && value[value.length - 1] === first) return value.slice(1, -1);
  }
  return value;
}

/** Decodes one URI component, turning a malformed escape into 4D error 1806 (malformed URL). */
export function decodeComponent(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw RestError.of(500, ErrCode.malformedUrl, `The URL is malformed: invalid percent-encoding in ${what} ${JSON.stringify(raw)}`);
  }
}

/**
 * Parsed query parameters. `$` parameter values have one outer quote pair stripped; other
 * parameters are kept verbatim (decoded). A repeated name keeps its last value.
 */
export class QueryParams {
  private readonly values = new Map<string, string>();

  /** Parses the raw query string (without `?`). Throws 1806 on malformed percent-encoding. */
  static parse(rawQuery: string): QueryParams {
    const params = new QueryParams();
    if (rawQuery === '') return params;
    for (const part of rawQuery.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const rawName = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? '' : part.slice(eq + 1);
      const name = decodeComponent(rawName, 'parameter name');
      const value = decodeComponent(rawValue, `the value of ${name}`);
      params.values.set(name, name.startsWith('$') ? stripQuotes(value) : value);
    }
    return params;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Names of the `$` parameters present. */
  keywords(): string[] {
    return [...this.values.keys()].filter((k) => k.startsWith('$'));
  }

  /** Throws 1811 for the first unknown `$` keyword. */
  assertKnownKeywords(): void {
    for (const k of this.keywords()) {
      if (!KNOWN_KEYWORDS.has(k)) {
        throw RestError.of(500, ErrCode.unknownKeyword, `Unknown REST query keyword "${k}"`);
      }
    }
  }

  /** A non-negative integer parameter; `undefined` when absent. Throws 1806 when not an integer. */
  nonNegativeInt(name: string): number | undefined {
    const v = this.values.get(name);
    if (v === undefined || v === '') return undefined;
    if (!/^\d+$/.test(v.trim())) {
      throw RestError.of(500, ErrCode.malformedUrl, `The URL is malformed: ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    }
    return Number(v.trim());
  }

  /** A boolean flag (`true`/`1` → true). */
  flag(name: string): boolean {
    const v = this.values.get(name);
    return v !== undefined && (v.toLowerCase() === 'true' || v === '1');
  }
}
