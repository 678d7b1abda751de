/**
 * The client's cookie jar for 4D sessions (protocol reference §5.1, §8.1): one value per cookie
 * name, replaced on every `Set-Cookie`, every cookie sent back, each name exactly once.
 */
import { parseSetCookie } from 'set-cookie-parser';

/** Cookie name → value of one 4D session (`WASID4D`, `4DSID_<App>`, …). */
export type CookieJar = Readonly<Record<string, string>>;

/**
 * Parses `Set-Cookie` values (set-cookie-parser, values kept verbatim) into name → value; `null`
 * marks a cookie the server deleted (empty value, `Max-Age` ≤ 0 or an `Expires` in the past).
 */
export function parseSetCookies(headers: readonly string[], now = Date.now()): Map<string, string | null> {
  const jar = new Map<string, string | null>();
  for (const cookie of parseSetCookie([...headers], { decodeValues: false, silent: true })) {
    if (!cookie.name) continue;
    let value = cookie.value;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    const deleted =
      value === '' || (cookie.maxAge !== undefined && cookie.maxAge <= 0) || (cookie.expires !== undefined && cookie.expires.getTime() < now);
    jar.set(cookie.name, deleted ? null : value);
  }
  return jar;
}

/** Applies parsed `Set-Cookie`s to a jar; returns the new jar and whether anything changed. */
export function mergeCookies(jar: CookieJar, updates: Map<string, string | null>): { cookies: Record<string, string>; changed: boolean } {
  const cookies: Record<string, string> = { ...jar };
  let changed = false;
  for (const [name, value] of updates) {
    if (value === null) {
      if (name in cookies) {
        delete cookies[name];
        changed = true;
      }
    } else if (cookies[name] !== value) {
      cookies[name] = value;
      changed = true;
    }
  }
  return { cookies, changed };
}

/**
 * The session cookies an answer set that differ from `sent`: a session 4D opened for this request
 * (a guest session, when the cookie sent was dead). `undefined` when it set none.
 */
export function newSessionCookies(sent: CookieJar, updates: Map<string, string | null>): Record<string, string> | undefined {
  const fresh: Record<string, string> = {};
  for (const [name, value] of updates) if (value !== null && sent[name] !== value) fresh[name] = value;
  return Object.keys(fresh).length ? fresh : undefined;
}

/** The `Cookie` header for a jar: each name exactly once. */
export function cookieHeader(cookies: CookieJar): string {
  return Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}

/** `true` when the jar holds at least one cookie. */
export function hasCookies(cookies: CookieJar | undefined): cookies is CookieJar {
  return !!cookies && Object.keys(cookies).length > 0;
}
