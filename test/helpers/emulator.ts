/**
 * Test factories for the 4D REST emulator: start one on port 0 and talk to it over real HTTP with a
 * tiny raw client (`node:http`, so the request path goes on the wire exactly as written: no URL
 * normalisation, no `+`-for-space, no cookie jar unless asked).
 */
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';

export interface RestOptions {
  /** HTTP verb; default `GET`, or `POST` when `body` is given. */
  method?: string;
  /** JSON-serialised unless already a string (sent verbatim, e.g. to test malformed JSON). */
  body?: unknown;
  /** `Cookie` header to send verbatim (wins over `login`). */
  cookie?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Log in first (once per test emulator, default credentials `wsz`/`wsz`) and send that session's cookies. */
  login?: boolean;
  /** Abort after this many ms (rejects); default none. */
  timeoutMs?: number;
}

export interface RestResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Raw `Set-Cookie` values. */
  setCookies: string[];
  /** Cookie name → value from `Set-Cookie`. */
  cookies: Record<string, string>;
  /** A `Cookie` header carrying every cookie set by this response (empty when none). */
  cookieHeader: string;
  text: string;
  /** Parsed JSON body, or `undefined` when the body is not JSON. */
  body: T;
}

/** `Cookie` header value from `Set-Cookie` values (attributes dropped). */
export function cookieHeaderFrom(setCookies: readonly string[]): string {
  return setCookies.map((c) => c.split(';')[0]).join('; ');
}

/** `Authorization` header value for HTTP Basic. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** One raw request against `origin` (e.g. `http://127.0.0.1:1234`); `path` is sent byte for byte. */
export function rawRequest<T = unknown>(origin: string, path: string, opts: RestOptions & { agent?: Agent } = {}): Promise<RestResponse<T>> {
  const url = new URL(origin);
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (opts.cookie) headers.cookie = opts.cookie;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method: opts.method ?? (payload !== undefined ? 'POST' : 'GET'), headers, agent: opts.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const setCookies = res.headers['set-cookie'] ?? [];
          const cookies: Record<string, string> = {};
          for (const c of setCookies) {
            const [pair] = c.split(';');
            const eq = pair.indexOf('=');
            cookies[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, setCookies, cookies, cookieHeader: cookieHeaderFrom(setCookies), text, body: body as T });
        });
      },
    );
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`request timed out after ${opts.timeoutMs} ms`)));
    }
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A started emulator plus a raw REST helper. */
export class TestEmulator {
  private sessionCookie: string | undefined;

  constructor(readonly emulator: Emulator) {}

  get url(): string {
    return this.emulator.url;
  }

  /** Logs in with `$directory/login` headers and returns the `Cookie` header of the new session. */
  async login(user = 'wsz', password = 'wsz', cookie?: string): Promise<string> {
    const res = await rawRequest(this.url, '/rest/$directory/login', {
      method: 'POST',
      cookie,
      headers: { 'username-4D': user, 'password-4D': password },
    });
    if (res.status !== 200) throw new Error(`login as ${user} failed with HTTP ${res.status}: ${res.text}`);
    return res.cookieHeader || cookie || '';
  }

  /** A raw request to `path` (which starts with `/rest/…`). */
  async rest<T = unknown>(path: string, opts: RestOptions = {}): Promise<RestResponse<T>> {
    let cookie = opts.cookie;
    if (cookie === undefined && opts.login) {
      this.sessionCookie ??= await this.login();
      cookie = this.sessionCookie;
    }
    return rawRequest<T>(this.url, path, { ...opts, cookie });
  }

  /** Forgets the cached login cookie (e.g. after `expireAllSessions()`). */
  forgetSession(): void {
    this.sessionCookie = undefined;
  }

  close(): Promise<void> {
    return this.emulator.close();
  }
}

/** Starts an emulator on port 0 (random). Call `close()` when done. */
export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<TestEmulator> {
  return new TestEmulator(await startEmulator({ port: 0, ...opts }));
}

/**
 * Registers `beforeAll`/`afterAll` hooks for a shared emulator in the current `describe` (or file)
 * and returns an accessor for it.
 */
export function withEmulator(opts: EmulatorOptions = {}): () => TestEmulator {
  let current: TestEmulator | undefined;
  beforeAll(async () => {
    current = await startTestEmulator(opts);
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('withEmulator(): the emulator is only available inside tests (after beforeAll)');
    return current;
  };
}
