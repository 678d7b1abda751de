/**
 * The two requests that open and end a 4D session (protocol reference §5.2), and the fingerprint
 * under which a session is stored. No state here: {@link SessionManager} decides when to call them.
 */
import { createHash, scryptSync } from 'node:crypto';
import {
  LegacyAPIAuthenticationError,
  LegacyAPIDataError,
  errorFromResponse,
  readErrorStack,
  type FourDErrorEntry,
} from './errors.js';
import { cookieHeader, hasCookies, mergeCookies, newSessionCookies, parseSetCookies, type CookieJar } from './cookies.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './http.js';

/** How the client authenticates against one environment. */
export interface SessionCredentials {
  username?: string;
  password?: string;
  /** `login`: `POST $directory/login` with `username-4D`/`password-4D` headers; `basic`: HTTP Basic on `GET $info`. */
  auth: 'login' | 'basic';
}

/** A login 4D refused for want of a licence (HTTP 402 / errCode 1823). Internal to the session layer. */
export class LoginRefusedNoLicence extends Error {
  constructor(
    readonly status: number,
    readonly fourDErrors: FourDErrorEntry[] | undefined,
  ) {
    super('4D has no free licence for a new session');
  }
}

/** The 4D error stack of an answer, if its body is JSON with one. */
export function parseStack(response: HttpResponse): FourDErrorEntry[] | undefined {
  if (!response.body) return undefined;
  try {
    return readErrorStack(JSON.parse(response.body));
  } catch {
    return undefined;
  }
}

/** `true` for the answer 4D gives when no licence is left. */
export function isNoLicence(response: HttpResponse, stack = parseStack(response)): boolean {
  return response.status === 402 || !!stack?.some((e) => e.errCode === 1823);
}

/**
 * Sends one login on `cookies` (so that 4D upgrades that session instead of opening another) and
 * returns the session's cookie jar. When a failed login leaves a session 4D opened for it (its
 * cookie came back with a refusal), `onOrphan` gets that session's cookies so it can be ended.
 * @throws LoginRefusedNoLicence on 402 (the caller decides about the breaker)
 * @throws LegacyAPIAuthenticationError for refused credentials
 */
export async function login(
  http: HttpTransport,
  environment: string,
  credentials: SessionCredentials,
  cookies: CookieJar | undefined,
  onOrphan: (cookies: Record<string, string>) => void,
): Promise<{ cookies: Record<string, string>; route: 'login' | 'info' }> {
  const username = credentials.username ?? http.urlCredentials.username;
  const password = credentials.password ?? http.urlCredentials.password ?? '';
  const headers: Record<string, string> = {};
  if (hasCookies(cookies)) headers.cookie = cookieHeader(cookies);
  let request: HttpRequest;
  if (username !== undefined && credentials.auth === 'login') {
    headers['username-4D'] = username;
    headers['password-4D'] = password;
    request = { method: 'POST', path: '$directory/login', headers, body: '', route: 'login', retry: 'login' };
  } else {
    if (username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
    }
    // Not 'idempotent': with credentials this GET opens (and licenses) a session, so a replay after
    // a lost answer could hold a second licence until 4D expires the first one.
    request = { method: 'GET', path: '$info', headers, route: 'info', retry: 'login' };
  }
  const response = await http.send(request);
  const stack = parseStack(response);
  const updates = parseSetCookies(response.setCookies);
  const failed = (error: Error): Error => {
    // 4D opened a session for this failed login (its cookie came back): nobody will use it.
    const orphan = newSessionCookies(cookies ?? {}, updates);
    if (orphan) onOrphan(orphan);
    return error;
  };
  if (isNoLicence(response, stack)) throw failed(new LoginRefusedNoLicence(response.status, stack));
  if (response.status === 401 || response.status === 403 || stack?.some((e) => e.errCode === 1822)) {
    throw failed(
      new LegacyAPIAuthenticationError(
        `4D login failed for environment ${environment} (HTTP ${response.status}${stack?.[0]?.errCode ? `, errCode ${stack[0].errCode}` : ''})`,
        { environment, status: response.status, fourDErrors: stack },
      ),
    );
  }
  if (response.status < 200 || response.status >= 300 || stack?.length) {
    throw failed(
      errorFromResponse(`4D login request failed for environment ${environment} (HTTP ${response.status})`, {
        status: response.status,
        stack,
        environment,
      }),
    );
  }
  if (request.route === 'login') {
    let result: unknown;
    try {
      result = (JSON.parse(response.body) as { result?: unknown }).result;
    } catch {
      throw failed(new LegacyAPIDataError(`4D login answer for environment ${environment} is not JSON`, { environment, status: response.status }));
    }
    if (result !== true) {
      throw failed(
        new LegacyAPIAuthenticationError(`4D login refused for environment ${environment} (result: ${JSON.stringify(result ?? null)})`, {
          environment,
          status: response.status,
          fourDErrors: [{ message: 'login failed', errCode: 1822 }],
        }),
      );
    }
  }
  const jar = mergeCookies(cookies ?? {}, updates).cookies;
  if (!hasCookies(jar)) {
    throw new LegacyAPIAuthenticationError(`4D opened no session for environment ${environment}: the login answer set no cookie`, {
      environment,
      status: response.status,
    });
  }
  return { cookies: jar, route: request.route === 'login' ? 'login' : 'info' };
}

/** Ends the 4D session of `cookies` (`GET $directory/logout`); resolves `true` when 4D confirmed it. */
export async function logout(http: HttpTransport, cookies: CookieJar): Promise<boolean> {
  const response = await http.send({
    method: 'GET',
    path: '$directory/logout',
    headers: { cookie: cookieHeader(cookies) },
    route: 'logout',
    retry: 'idempotent',
  });
  try {
    return (JSON.parse(response.body) as { result?: unknown }).result === true;
  } catch {
    return false;
  }
}

const passwordDigests = new Map<string, string>();

/**
 * Where an environment's session is stored: a hash of the environment, the server, the user, the
 * auth mode and a one-way keyed hash (scrypt, salted with the rest) of the password. A session
 * opened with other credentials (a rotated or mistyped password) is never picked up; the store
 * never holds the password or anything it can be recovered from cheaply.
 */
export function sessionFingerprint(environment: string, server: string, credentials: SessionCredentials, urlCredentials: { username?: string; password?: string }): string {
  const username = credentials.username ?? urlCredentials.username ?? '';
  const password = credentials.password ?? urlCredentials.password ?? '';
  const salt = createHash('sha256').update(JSON.stringify([environment, server, username, credentials.auth])).digest();
  const cacheKey = `${salt.toString('hex')}:${createHash('sha256').update(password).digest('hex')}`;
  let digest = passwordDigests.get(cacheKey);
  if (!digest) {
    digest = scryptSync(password, salt, 32, { N: 1 << 14, r: 8, p: 1 }).toString('hex');
    passwordDigests.set(cacheKey, digest);
  }
  return createHash('sha256').update(salt).update(digest).digest('hex').slice(0, 32);
}

/** A short stable id of a server (origin and REST root): the licence pool the breaker is about. */
export function serverId(server: string): string {
  return createHash('sha256').update(server).digest('hex').slice(0, 16);
}
