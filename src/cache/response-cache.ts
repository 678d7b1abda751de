/**
 * The response cache: an Apollo Server plugin keeping whole query answers, keyed by the document's
 * hash, the operation name, the variables and, for `PRIVATE` answers, the caller's scope (a header
 * the router sets). An answer is stored under the tag versions its rows were read under (the
 * request's {@link CacheReport}), so any invalidation of anything it holds makes it a miss.
 *
 * Honours `@cacheControl` (through Apollo's cache-control plugin, with the configured default and
 * per-type ages), never stores mutations, answers with errors or stale data, and sets
 * `Cache-Control` with a `max-age` no longer than the freshness of the rows it holds, `Cache-Tag`
 * with its tags (for a router or CDN cache purged on the same tags), and `extensions.cache`.
 */
import type { ApolloServerPlugin, GraphQLRequestContext, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { createHash } from 'node:crypto';
import { getNamedType, isObjectType, type FormattedExecutionResult, type GraphQLResolveInfo } from 'graphql';
import type { CacheMetrics } from './metrics.js';
import type { CacheReport } from './report.js';
import type { Entry, TaggedCache } from './tagged-cache.js';

export interface ResponseCacheOptions {
  readonly cache: TaggedCache;
  readonly metrics: CacheMetrics;
  /** Part of every key: the environment the answers come from. */
  readonly namespace: string;
  /** Lowercase header naming the caller (`PRIVATE` answers are kept per value); none: PRIVATE answers are not kept. */
  readonly scopeHeader?: string;
  /** Seconds of `@cacheControl(maxAge:)` for types the schema leaves without one. */
  readonly maxAgeByType: Readonly<Record<string, number>>;
  /** Grace past freshness for answers served when 4D cannot answer (ms). */
  readonly graceMs: number;
  /** `true`: `extensions.cache` also lists the tags. */
  readonly debug: boolean;
  /** The request's report of what its reads used. */
  readonly reportOf: (context: unknown) => CacheReport | undefined;
}

interface StoredResponse {
  readonly data: FormattedExecutionResult['data'];
  readonly scope: 'PUBLIC' | 'PRIVATE';
  readonly storedAt: number;
}

/** Error codes meaning "4D could not answer": a stale answer within grace is better. */
const UNAVAILABLE = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_SESSION_LIMIT', 'UPSTREAM_ERROR', 'SERVICE_UNAVAILABLE']);
/** Longest `Cache-Tag` header; past it only table tags are listed. */
const MAX_TAG_HEADER = 8000;

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` variables share an entry. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The metric label of an operation: its first root field (bounded by the schema, unlike operation
 * names, which clients choose).
 */
function metricType(rc: { operation?: { selectionSet: { selections: readonly { kind: string; name?: { value: string } }[] } } | null }): string {
  const first = rc.operation?.selectionSet.selections.find((s) => s.kind === 'Field');
  return first?.name?.value ?? 'query';
}

const sha = (text: string) => createHash('sha256').update(text).digest('base64url');

function tagHeader(tags: readonly string[]): string {
  const all = tags.join(',');
  if (all.length <= MAX_TAG_HEADER) return all;
  return [...new Set(tags.map((t) => t.split(':')[0]!))].join(',');
}

export function responseCachePlugin<TContext extends object>(options: ResponseCacheOptions): ApolloServerPlugin<TContext> {
  const { cache, metrics } = options;
  return {
    async requestDidStart() {
      let status: 'hit' | 'miss' | 'stale' | 'bypass' = 'bypass';
      let publicKey: string | undefined;
      let privateKey: string | undefined;
      let fallback: Entry<StoredResponse> | undefined;
      const respond = (rc: GraphQLRequestContext<TContext>, entry: Entry<StoredResponse>, state: 'hit' | 'stale') => {
        const now = cache.now();
        const tags = Object.keys(entry.t);
        const maxAge = state === 'hit' ? Math.max(0, Math.floor((entry.exp - now) / 1000)) : 0;
        return {
          headers: [
            ['cache-control', maxAge > 0 ? `max-age=${maxAge}, ${entry.v.scope === 'PRIVATE' ? 'private' : 'public'}` : 'no-store'],
            ['cache-tag', tagHeader(tags)],
            ['age', String(Math.max(0, Math.floor((now - entry.v.storedAt) / 1000)))],
          ] as const,
          extensions: { cache: { status: state, ...(options.debug ? { tags } : {}) } },
          rc,
        };
      };
      return {
        async executionDidStart() {
          return {
            willResolveField({ info }) {
              // Per-type ages from configuration where the schema says nothing.
              const type = getNamedType(info.returnType);
              const age = isObjectType(type) ? options.maxAgeByType[type.name] : undefined;
              const control = (info as GraphQLResolveInfo & { cacheControl?: { cacheHint: { maxAge?: number }; setCacheHint(h: { maxAge: number }): void } }).cacheControl;
              if (age !== undefined && control && control.cacheHint.maxAge === undefined) control.setCacheHint({ maxAge: age });
            },
          };
        },
        async responseForOperation(rc): Promise<GraphQLResponse | null> {
          // No operation (an operationName the document does not define): Apollo answers that itself.
          if (rc.operation?.operation !== 'query' || !cache.usable) return null;
          const base = sha(canonicalJson([rc.queryHash, rc.operationName ?? null, rc.request.variables ?? {}]));
          publicKey = `q:${options.namespace}:${base}`;
          const scope = options.scopeHeader ? rc.request.http?.headers.get(options.scopeHeader) : undefined;
          if (scope) privateKey = `q:${options.namespace}:${base}:p:${sha(scope)}`;
          const keys = privateKey ? [publicKey, privateKey] : [publicKey];
          const found = await cache.readSelfTagged<StoredResponse>(keys);
          status = 'miss';
          if (!found) return null;
          // The public entry must really be public, the private one private: a stored scope that
          // does not match its key is never served.
          const usable = found
            .map((lookup, i) => ({ lookup, private: i === 1 }))
            .filter(({ lookup, private: p }) => lookup.state !== 'miss' && (lookup.entry.v.scope === 'PRIVATE') === p);
          const fresh = usable.find(({ lookup }) => lookup.state === 'fresh');
          if (fresh && fresh.lookup.state === 'fresh') {
            status = 'hit';
            metrics.lookup('response', metricType(rc), 'hit');
            const out = respond(rc, fresh.lookup.entry, 'hit');
            const headers = new HeaderMap();
            for (const [k, v] of out.headers) headers.set(k, v);
            return { http: { status: undefined, headers }, body: { kind: 'single', singleResult: { data: fresh.lookup.entry.v.data, extensions: out.extensions } } };
          }
          const stale = usable.find(({ lookup }) => lookup.state === 'stale');
          if (stale && stale.lookup.state === 'stale') fallback = stale.lookup.entry;
          return null;
        },
        async willSendResponse(rc) {
          if (status === 'bypass' || status === 'hit') {
            if (status === 'bypass' && rc.operation?.operation === 'query') rc.response.http.headers.set('cache-control', 'no-store');
            return;
          }
          const body = rc.response.body;
          if (body.kind !== 'single') return;
          const result = body.singleResult;
          const report = options.reportOf(rc.contextValue);
          const errors = result.errors ?? [];
          // 4D could not answer: an answer within grace is served instead, marked stale.
          if (errors.length > 0 && fallback && errors.every((e) => UNAVAILABLE.has(String(e.extensions?.code)))) {
            status = 'stale';
            metrics.lookup('response', metricType(rc), 'stale');
            const out = respond(rc, fallback, 'stale');
            for (const [k, v] of out.headers) rc.response.http.headers.set(k, v);
            rc.response.http.status = 200;
            body.singleResult = { data: fallback.v.data, extensions: { ...result.extensions, ...out.extensions } };
            return;
          }
          metrics.lookup('response', metricType(rc), 'miss');
          const policy = rc.overallCachePolicy.policyIfCacheable();
          const now = cache.now();
          const freshMs = Math.min(policy ? policy.maxAge * 1000 : 0, (report?.freshUntil ?? now) - now);
          const privateWithoutScope = policy?.scope === 'PRIVATE' && !privateKey;
          // An answer that read nothing through the caches has nothing to be invalidated by: not kept.
          const keep = errors.length === 0 && !!report && report.tags.size > 0 && !report.stale && !report.uncacheable && freshMs >= 1000 && !privateWithoutScope;
          const tags = report ? [...report.tags.keys()] : [];
          const maxAge = Math.floor(Math.max(0, freshMs) / 1000);
          rc.response.http.headers.set(
            'cache-control',
            errors.length === 0 && policy && maxAge > 0 && !report?.stale && !report?.uncacheable ? `max-age=${maxAge}, ${policy.scope === 'PRIVATE' ? 'private' : 'public'}` : 'no-store',
          );
          if (tags.length > 0) rc.response.http.headers.set('cache-tag', tagHeader(tags));
          const state = report?.stale ? 'stale' : 'miss';
          result.extensions = { ...result.extensions, cache: { status: state, ...(options.debug ? { tags } : {}) } };
          if (!keep || !report) return;
          const key = policy!.scope === 'PRIVATE' ? privateKey! : publicKey!;
          const value: StoredResponse = { data: result.data, scope: policy!.scope === 'PRIVATE' ? 'PRIVATE' : 'PUBLIC', storedAt: now };
          await cache.write([{ key, entry: cache.entry(value, report.tags, freshMs, options.graceMs) }]);
        },
      };
    },
  };
}
