/**
 * The emulator's HTTP server (Node `http`, no framework): request pipeline, session/auth layer,
 * fault injection and dispatch to the REST handlers of `./http/`.
 *
 * Pipeline of one request: count it → take the next armed fault → read the body → wait the
 * configured latency → answer the fault, or: session lookup (cookies) → HTTP Basic → auth check →
 * `$` keyword/verb validation → handler. Every answer carries the `Set-Cookie`s of a session opened
 * or logged in by this request, error answers included.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_SCALE, generateDatabase } from './data/generate.js';
import type { EmulatorDatabase } from './data/store.js';
import { appendRequestLog, createCounters, resetCounters } from './counters.js';
import { createDesktop, handleControl, isControlPath } from './control.js';
import { checkFaultDelay, FaultQueue, faultErrorBody, GARBAGE_HTML, GARBAGE_TRUNCATED_JSON, Latency, processesRequest, type Fault } from './faults.js';
import type { Emulator, EmulatorCounters, EmulatorOptions, RequestLogEntry } from './index.js';
import { SessionManager, type Session } from './sessions.js';
import { catalog, catalogAll, catalogTable, info } from './http/catalog.js';
import type { EmulatedVersion, HandlerContext } from './http/context.js';
import { EntitySetCache } from './http/entitysets.js';
import { ErrCode, RestError, toRestError } from './http/errors.js';
import { IGNORED_KEYWORDS, QueryParams } from './http/params.js';
import { getCollection, getEntity, getEntityByAttribute, getEntitySet } from './http/read.js';
import { assertKnownMethod, parseRestPath, routeName, splitUrl, type RouteName, type Target } from './http/route.js';
import { deleteEntity, deleteEntityByAttribute, deleteSelection, parseJsonBody, postUpdate } from './http/write.js';

/** Largest request body accepted (bytes). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Keywords accepted by the parser that change semantics but are not emulated: answered with 1813. */
const UNSUPPORTED_KEYWORDS = new Set(['$lock', '$asArray', '$logicOperator', '$operator', '$otherCollection', '$subOrderby', '$clean']);

interface Reply {
  status: number;
  json?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Per-request state shared by the session layer and the handlers. */
interface RequestState {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly target: Target;
  readonly route: RouteName;
  readonly params: QueryParams;
  body: string | undefined;
  session: Session | undefined;
  /** `Set-Cookie` values to send with whatever answer this request gets. */
  setCookies: string[];
}

function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, json: body, headers };
}

function errorReply(e: unknown): Reply {
  const err = toRestError(e);
  return { status: err.status, json: err.body(), headers: err.headers };
}

function methodNotAllowed(allow: string, errCode: number, message: string): RestError {
  return new RestError(405, [{ message, componentSignature: 'dbmg', errCode }], {}, { Allow: allow });
}

function validateOptions(o: EmulatorOptions): void {
  const int = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) {
      throw new TypeError(`EmulatorOptions.${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    }
  };
  int('port', o.port, 0);
  int('sessions', o.sessions, 0);
  int('maxTop', o.maxTop, 0);
  if (o.sessionIdleSeconds !== undefined && !(Number.isFinite(o.sessionIdleSeconds) && o.sessionIdleSeconds > 0)) {
    throw new TypeError(`EmulatorOptions.sessionIdleSeconds must be a number > 0, got ${JSON.stringify(o.sessionIdleSeconds)}`);
  }
  if (o.scale !== undefined && !(Number.isFinite(o.scale) && o.scale > 0)) {
    throw new TypeError(`EmulatorOptions.scale must be a number > 0, got ${JSON.stringify(o.scale)}`);
  }
  if (o.version !== undefined && !['v18', 'v20', 'v21'].includes(o.version)) {
    throw new TypeError(`EmulatorOptions.version must be 'v18', 'v20' or 'v21', got ${JSON.stringify(o.version)}`);
  }
  if (o.licenceMode !== undefined && o.licenceMode !== 'every-session' && o.licenceMode !== 'force-login') {
    throw new TypeError(`EmulatorOptions.licenceMode must be 'every-session' or 'force-login', got ${JSON.stringify(o.licenceMode)}`);
  }
  if (o.auth !== undefined && o.auth !== 'required' && o.auth !== 'none') {
    throw new TypeError(`EmulatorOptions.auth must be 'required' or 'none', got ${JSON.stringify(o.auth)}`);
  }
  for (const name of ['changeTracking', 'deletedRecordsInCatalog', 'control', 'entitySets'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') {
      throw new TypeError(`EmulatorOptions.${name} must be true or false, got ${JSON.stringify(o[name])}`);
    }
  }
  if (o.untrackedTables !== undefined && (!Array.isArray(o.untrackedTables) || o.untrackedTables.some((t) => typeof t !== 'string'))) {
    throw new TypeError(`EmulatorOptions.untrackedTables must be an array of table names, got ${JSON.stringify(o.untrackedTables)}`);
  }
  if (o.appName !== undefined && !/^[A-Za-z0-9_.-]+$/.test(o.appName)) {
    throw new TypeError(`EmulatorOptions.appName must be a cookie-safe name ([A-Za-z0-9_.-]), got ${JSON.stringify(o.appName)}`);
  }
  Latency.check(o.latencyMs ?? 0, o.jitterMs ?? 0);
}

/** Decodes `Authorization: Basic …`; `undefined` when absent or another scheme, `null` when malformed. */
function basicCredentials(header: string | undefined): { user: string; password: string } | null | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!m) return /^Basic\b/i.test(header) ? null : undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function singleHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(RestError.of(413, ErrCode.malformedUrl, `The request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    let done = false;
    req.on('end', () => {
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
    // A client that disconnects mid-body: settle the promise so the handler does not leak.
    req.on('close', () => {
      if (!done) reject(RestError.of(400, ErrCode.malformedUrl, 'The client closed the connection before the request body was complete'));
    });
  });
}

/** Starts an emulator; resolves once it listens. See {@link EmulatorOptions} for the defaults. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateOptions(options);
  const now = options.now ?? Date.now;
  const version: EmulatedVersion = options.version ?? 'v20';
  const authRequired = (options.auth ?? 'required') === 'required';
  const appName = options.appName ?? 'WSZ-DB';
  const logger = options.logger;
  const db: EmulatorDatabase = options.database ?? generateDatabase({ scale: options.scale ?? DEMO_SCALE, seed: options.seed ?? 42 });
  try {
    db.configureChangeTracking({ enabled: options.changeTracking ?? true, untrackedTables: options.untrackedTables });
  } catch (e) {
    throw new TypeError(`EmulatorOptions.${(e as Error).message}`);
  }
  const tableNames = db.tableNames();
  const desktop = createDesktop(db, now);
  const controlEnabled = options.control ?? true;

  const counters: EmulatorCounters = createCounters(tableNames);
  let requestLog: RequestLogEntry[] = [];
  const faults = new FaultQueue();
  const latency = new Latency(options.latencyMs ?? 0, options.jitterMs ?? 0);
  const entitySets = new EntitySetCache(now);
  const sessions = new SessionManager({
    poolSize: options.sessions ?? 10,
    licenceMode: options.licenceMode ?? 'every-session',
    idleSeconds: options.sessionIdleSeconds ?? 3600,
    appName,
    users: options.users ?? { wsz: 'wsz' },
    now,
  });
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closing = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pendingDelays.add(entry);
    });

  const handlerContext = (params: QueryParams): HandlerContext => ({
    db,
    version,
    params,
    maxTop: options.maxTop,
    entitySets,
    counters,
    now,
  });

  const dataClassOf = (target: Target): string | undefined => {
    if (target.kind === 'dataClass' || target.kind === 'entity' || target.kind === 'entityByAttribute') {
      return db.table(target.dataClass) ? target.dataClass : undefined;
    }
    return undefined;
  };

  // ------------------------------------------------------------------------------------------
  // Session layer

  /** The request's session, opening a guest one (which may need a licence: 402 when none is left). */
  const ensureSession = (st: RequestState): Session => {
    if (!st.session) {
      const opened = sessions.open();
      if (!opened) throw RestError.of(402, ErrCode.maxSessions, 'Maximum number of sessions reached');
      st.session = opened;
      counters.sessionsOpened++;
      st.setCookies = sessions.setCookies(st.session);
    }
    return st.session;
  };

  /** Authenticates the request's session, opening a guest one first if needed; 402 when the pool is full. */
  const authenticate = (st: RequestState, user: string, lifetimeSeconds?: number): void => {
    const session = ensureSession(st);
    const wasGuest = !session.authenticated;
    if (!sessions.authenticate(session, user, lifetimeSeconds)) {
      throw RestError.of(402, ErrCode.maxSessions, 'Maximum number of sessions reached');
    }
    if (wasGuest) counters.logins++;
    if (wasGuest || lifetimeSeconds !== undefined) st.setCookies = sessions.setCookies(session);
  };

  const loginFailed = (): RestError => {
    counters.failedLogins++;
    return RestError.of(401, ErrCode.loginFailed, 'Login failed', { result: false });
  };

  /** `POST /rest/$directory/login` with `username-4D`/`password-4D` headers (or HTTP Basic). */
  const login = (st: RequestState): unknown => {
    if (st.method !== 'POST') throw methodNotAllowed('POST', ErrCode.methodCalledWithGet, '$directory/login must be called with POST');
    ensureSession(st);
    const headers = st.req.headers;
    let user = singleHeader(headers['username-4d']);
    let password = singleHeader(headers['password-4d']);
    if (user === undefined) {
      const basic = basicCredentials(singleHeader(headers.authorization));
      if (basic) ({ user, password } = basic);
    }
    if (!sessions.checkCredentials(user, password)) throw loginFailed();
    let lifetimeSeconds: number | undefined;
    const length = singleHeader(headers['session-4d-length']);
    if (length !== undefined && /^\d+$/.test(length.trim())) lifetimeSeconds = Math.max(60, Number(length)) * 60;
    authenticate(st, user, lifetimeSeconds);
    return { result: true };
  };

  const needsAuthentication = (target: Target): boolean =>
    authRequired && (target.kind === 'info' || target.kind === 'dataClass' || target.kind === 'entity' || target.kind === 'entityByAttribute');

  // ------------------------------------------------------------------------------------------
  // Dispatch

  const dispatch = (st: RequestState): unknown => {
    const { target, method, params } = st;
    if (target.kind === 'notFound') {
      throw RestError.of(404, ErrCode.entityNotFound, `Resource not found: ${target.reason}`);
    }

    const lookup = sessions.lookup(st.req.headers.cookie);
    if (lookup.conflict) {
      throw RestError.of(401, ErrCode.noPermission, 'Conflicting session cookies: send each session cookie exactly once');
    }
    st.session = lookup.session;

    if (target.kind === 'logout') {
      if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') throw methodNotAllowed('GET, POST', ErrCode.methodNotApplicable, '$directory/logout expects GET');
      if (!st.session) return { result: false };
      sessions.end(st.session);
      counters.logouts++;
      st.session = undefined;
      return { result: true };
    }
    if (target.kind === 'login') return login(st);

    ensureSession(st);
    const basic = basicCredentials(singleHeader(st.req.headers.authorization));
    if (basic === null) throw loginFailed();
    if (basic) {
      if (!sessions.checkCredentials(basic.user, basic.password)) throw loginFailed();
      authenticate(st, basic.user);
    }
    if (needsAuthentication(target) && !st.session!.authenticated) {
      throw RestError.of(401, ErrCode.noPermission, 'Unauthorized: this request needs an authenticated session ($directory/login or HTTP Basic)');
    }

    params.assertKnownKeywords();
    for (const k of params.keywords()) {
      if (UNSUPPORTED_KEYWORDS.has(k)) throw RestError.of(500, ErrCode.methodNotApplicable, `${k} is not supported by the emulator`);
    }
    const restMethod = params.get('$method');
    assertKnownMethod(restMethod);
    const isGet = method === 'GET' || method === 'HEAD';
    const ctx = handlerContext(params);

    switch (target.kind) {
      case 'info':
      case 'catalog':
      case 'catalogTable':
      case 'currentUser':
        if (!isGet) throw methodNotAllowed('GET', ErrCode.methodNotApplicable, `${method} is not applicable to this resource`);
        if (target.kind === 'info') return info(db, sessions.list(), entitySets);
        if (target.kind === 'catalog') {
          const listing = { deletedRecords: options.deletedRecordsInCatalog ?? false };
          return target.all ? catalogAll(db, listing) : catalog(db, listing);
        }
        if (target.kind === 'catalogTable') return catalogTable(db, target.dataClass);
        return currentUser(st.session!);
      default:
        break;
    }

    const writeMethod = restMethod === 'update' || restMethod === 'delete' || restMethod === 'validate';
    if (isGet && writeMethod) {
      throw methodNotAllowed('POST', ErrCode.methodCalledWithGet, `$method=${restMethod} must be called with POST`);
    }
    if (!isGet && method !== 'POST') throw methodNotAllowed('GET, POST', ErrCode.methodNotApplicable, `${method} is not applicable to this resource`);
    if (method === 'POST' && !writeMethod) {
      throw methodNotAllowed('GET', ErrCode.methodNotApplicable, `POST needs $method=update, validate or delete here`);
    }
    if (restMethod === 'entityset' && options.entitySets === false) {
      throw RestError.of(500, ErrCode.methodNotApplicable, '$method=entityset is not applicable: entity sets are disabled on this server');
    }
    if (restMethod === 'subentityset') throw RestError.of(500, ErrCode.methodNotApplicable, '$method=subentityset is not applicable: the WSZ dataclasses have no relations');

    switch (target.kind) {
      case 'dataClass':
        if (restMethod === 'update' || restMethod === 'validate') {
          if (target.entitySetId !== undefined || target.attributes) {
            throw RestError.of(500, ErrCode.methodNotApplicable, `$method=${restMethod} applies to /rest/{dataClass} only`);
          }
          return postUpdate(ctx, target.dataClass, parseJsonBody(st.body), restMethod === 'validate');
        }
        if (restMethod === 'delete') return deleteSelection(ctx, target.dataClass, target.entitySetId);
        if (target.entitySetId !== undefined) return getEntitySet(ctx, target.dataClass, target.entitySetId, target.attributes);
        if (restMethod === 'release') throw RestError.of(500, ErrCode.methodNotApplicable, '$method=release applies to /rest/{dataClass}/$entityset/{id}');
        return getCollection(ctx, target.dataClass, target.attributes);
      case 'entity':
        if (restMethod === 'delete') return deleteEntity(ctx, target.dataClass, target.key);
        if (restMethod !== undefined) throw RestError.of(500, ErrCode.methodNotApplicable, `$method=${restMethod} is not applicable to a single entity`);
        return getEntity(ctx, target.dataClass, target.key, target.attributes);
      case 'entityByAttribute':
        if (restMethod === 'delete') return deleteEntityByAttribute(ctx, target.dataClass, target.attribute, target.value);
        if (restMethod !== undefined) throw RestError.of(500, ErrCode.methodNotApplicable, `$method=${restMethod} is not applicable to a single entity`);
        return getEntityByAttribute(ctx, target.dataClass, target.attribute, target.value, target.attributes);
    }
  };

  const currentUser = (session: Session): unknown =>
    session.authenticated && session.userName !== null
      ? { result: { userName: session.userName, fullName: session.userName, ID: userId(session.userName) } }
      : { result: null };

  // ------------------------------------------------------------------------------------------
  // HTTP

  const write = (res: ServerResponse, reply: Reply, setCookies: string[]): void => {
    if (res.destroyed || res.headersSent) return;
    const payload = reply.raw ?? JSON.stringify(reply.json);
    const headers: Record<string, string | string[] | number> = {
      'Content-Type': reply.contentType ?? 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(payload),
      Server: `4D/${version.slice(1)}.0 (WSZ emulator)`,
      ...reply.headers,
    };
    if (setCookies.length > 0) headers['Set-Cookie'] = setCookies;
    res.writeHead(reply.status, headers);
    res.end(payload);
  };

  /** Answers a fault that replaces processing (the others are applied around `dispatch` in `handle`). */
  const applyFault = (fault: Exclude<Fault, { kind: 'loseAnswer' | 'delayAnswer' | 'slow' }>, req: IncomingMessage, res: ServerResponse): number => {
    switch (fault.kind) {
      case 'drop':
        req.socket.destroy();
        return 0;
      case 'hang':
        return 0;
      case 'fail':
        write(res, json(fault.status, faultErrorBody(fault.status)), []);
        return fault.status;
      case 'garbage':
        write(
          res,
          fault.variant === 'html'
            ? { status: 200, raw: GARBAGE_HTML, contentType: 'text/html; charset=utf-8' }
            : { status: 200, raw: GARBAGE_TRUNCATED_JSON, contentType: 'application/json; charset=utf-8' },
          [],
        );
        return 200;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const { path, query } = splitUrl(rawUrl);

    let early: unknown;
    let target: Target;
    try {
      target = parseRestPath(path);
    } catch (e) {
      target = { kind: 'notFound', reason: 'malformed path' };
      early = e;
    }
    let params: QueryParams;
    try {
      params = QueryParams.parse(query);
    } catch (e) {
      params = new QueryParams();
      early ??= e;
    }
    const route = routeName(target, params.get('$method'));
    const table = dataClassOf(target);
    counters.requests++;
    counters.byRoute[route] = (counters.byRoute[route] ?? 0) + 1;
    if (table !== undefined) counters.byTable[table] = (counters.byTable[table] ?? 0) + 1;
    // Header names only (never a cookie's value): what a client sent beyond its own headers shows here.
    const entry: RequestLogEntry = { method, path: rawUrl, status: 0, headerNames: Object.keys(req.headers).sort() };
    if (table !== undefined) entry.table = table;
    appendRequestLog(requestLog, entry);

    const fault = faults.next();
    if (fault) counters.faultsInjected++;
    if (fault?.kind === 'hang') {
      // Never answered; close() destroys the socket.
      req.resume();
      return;
    }

    const st: RequestState = { req, method, target, route, params, body: undefined, session: undefined, setCookies: [] };
    let reply: Reply | undefined;
    try {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') st.body = await readBody(req);
      else req.resume();
    } catch (e) {
      reply = errorReply(e);
    }

    const delay = latency.sample();
    if (delay > 0) await sleep(delay);
    if (closing) return;

    if (fault && !processesRequest(fault)) {
      entry.status = applyFault(fault, req, res);
      logger?.info({ msg: 'request', method, path, route, table, status: entry.status, fault: fault.kind });
      return;
    }
    if (fault?.kind === 'slow') {
      await sleep(fault.ms);
      if (closing) return;
    }

    if (!reply) {
      try {
        if (early) throw early;
        reply = json(200, dispatch(st));
      } catch (e) {
        reply = errorReply(e);
      }
    }
    entry.status = reply.status;
    if (reply.status === 401) counters.rejected401++;
    if (reply.status === 402) counters.rejected402++;
    if (fault?.kind === 'loseAnswer') {
      // Processed (a write is saved), but the client never hears of it.
      entry.status = 0;
      req.socket.destroy();
      if (st.session) sessions.touch(st.session);
      logger?.info({ msg: 'request', method, path, route, table, status: 0, fault: fault.kind });
      return;
    }
    if (fault?.kind === 'delayAnswer') {
      await sleep(fault.ms);
      if (closing) return;
    }
    write(res, reply, st.setCookies);
    if (st.session) sessions.touch(st.session);
    logger?.info({ msg: 'request', method, path, route, table, status: reply.status, ms: Math.round(performance.now() - started) });
  };

  const server: Server = createServer((req, res) => {
    if (controlEnabled && isControlPath(req.url)) {
      // Not a 4D request: no counters, faults, latency or sessions (see control.ts).
      handleControl({ db, desktop, logger }, req, res).catch((e: unknown) => {
        if (res.headersSent || res.destroyed) return;
        const payload = JSON.stringify({ error: `internal emulator error: ${(e as Error).message}` });
        res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload) });
        res.end(payload);
      });
      return;
    }
    // In-flight gauge and its high-water mark: requests received and not yet answered or closed.
    counters.inFlight++;
    counters.maxInFlight = Math.max(counters.maxInFlight, counters.inFlight);
    res.once('close', () => {
      counters.inFlight--;
    });
    handle(req, res).catch((e: unknown) => {
      // Last resort: a bug in the pipeline itself must still produce an answer.
      write(res, errorReply(e), []);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    db,
    desktop,
    globalStamp(): number {
      return db.globalStamp;
    },
    setGlobalStamp(n: number): void {
      db.setGlobalStamp(n);
    },
    counters,
    get requestLog(): RequestLogEntry[] {
      return requestLog;
    },
    set requestLog(log: RequestLogEntry[]) {
      requestLog = log;
    },
    clearFaults(): void {
      faults.clear();
    },
    resetCounters(): void {
      resetCounters(counters, tableNames);
      requestLog.length = 0;
    },
    setLatency(ms: number, jitterMs = 0): void {
      latency.set(ms, jitterMs);
    },
    failNext(n: number, status = 503): void {
      if (!Number.isInteger(status) || status < 100 || status > 599) throw new TypeError(`failNext status must be an HTTP status, got ${status}`);
      faults.add(n, { kind: 'fail', status });
    },
    dropNext(n: number): void {
      faults.add(n, { kind: 'drop' });
    },
    hangNext(n: number): void {
      faults.add(n, { kind: 'hang' });
    },
    garbageNext(n: number, kind: 'html' | 'truncated' = 'html'): void {
      faults.add(n, { kind: 'garbage', variant: kind });
    },
    loseAnswerNext(n: number): void {
      faults.add(n, { kind: 'loseAnswer' });
    },
    delayAnswerNext(n: number, ms: number): void {
      checkFaultDelay(ms);
      faults.add(n, { kind: 'delayAnswer', ms });
    },
    slowNext(n: number, ms: number): void {
      checkFaultDelay(ms);
      faults.add(n, { kind: 'slow', ms });
    },
    setSessionLimit(n: number): void {
      if (!Number.isInteger(n) || n < 0) throw new TypeError(`session limit must be an integer ≥ 0, got ${n}`);
      sessions.setLimit(n);
    },
    expireAllSessions(): void {
      sessions.expireAll();
    },
    activeSessions(): number {
      return sessions.activeCount();
    },
    liveEntitySets(): number {
      return entitySets.list().length;
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        for (const d of pendingDelays) {
          clearTimeout(d.timer);
          d.resolve();
        }
        pendingDelays.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function userId(userName: string): string {
  // Deterministic, opaque 32-hex id per user name.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const ch of userName) {
    const c = ch.codePointAt(0)!;
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return [h1, h2, h1 ^ h2, Math.imul(h1, 31) >>> 0].map((n) => n.toString(16).padStart(8, '0')).join('').toUpperCase();
}
