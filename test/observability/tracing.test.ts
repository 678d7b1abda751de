/**
 * Tracing with an in-memory exporter: the router's `traceparent` starts one trace that runs from
 * the operation span down to a span per 4D request, with the attributes the operators read and no
 * secret (password, cookie, router secret, filter value) in any attribute.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { startTracing, type Tracing } from '../../src/observability/tracing.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import { listen, post } from './http.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const ROUTER_SPAN = 'b7ad6b7169203331';
const traceparent = `00-${TRACE_ID}-${ROUTER_SPAN}-01`;
const ROUTER_SECRET = 'router-secret-for-tracing-1';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let subgraph: TestSubgraph;
let base: string;

beforeAll(async () => {
  tracing = startTracing({ exporter });
  subgraph = await startTestSubgraph({
    server: { tracing: tracing.enabled, routerSecret: ROUTER_SECRET },
  });
  base = await listen(subgraph.server);
});
afterAll(async () => {
  await subgraph?.close();
  await tracing?.shutdown();
});
beforeEach(() => exporter.reset());

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
/** Spans end when the response closes: wait for the operation span without a timer. */
async function operationSpan(): Promise<ReadableSpan> {
  for (let i = 0; i < 1000; i++) {
    const found = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
    if (found) return found;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('no operation span was exported');
}

describe('one trace from the router to 4D', () => {
  it('continues the incoming traceparent down to each 4D request', async () => {
    const secretName = 'Geheimer Filterwert';
    const query = 'query ProductsByName($name: String!) { products(filter: { name: { contains: $name } }, first: 3) { totalCount edges { node { sku } } } }';
    const answer = await post(base, query, { name: secretName }, { traceparent, 'x-router-secret': ROUTER_SECRET, cookie: 'WASID4D=caller-cookie' });
    expect(answer.status).toBe(200);
    const operation = await operationSpan();
    expect(operation.name).toBe('query ProductsByName');
    expect(operation.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(operation)).toBe(ROUTER_SPAN);
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'ProductsByName', 'http.response.status_code': 200 });

    const upstream = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    const collection = upstream.find((s) => s.attributes['wsz.route'] === 'collection');
    expect(collection).toBeDefined();
    expect(collection!.name).toBe('4D GET collection');
    expect(collection!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'wsz.table': 'Artikel_Variante',
      'http.response.status_code': 200,
      'wsz.retry_count': 0,
    });
    expect(typeof collection!.attributes['wsz.session.reused']).toBe('boolean');
    // The login this first request needed is a 4D span of the same trace too.
    expect(upstream.some((s) => s.attributes['wsz.route'] === 'login')).toBe(true);
    for (const span of upstream) {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(parentOf(span)).toBe(operation.spanContext().spanId);
    }

    const everything = JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    for (const secret of [ROUTER_SECRET, 'caller-cookie', 'WASID4D', secretName, subgraph.emulator.url]) expect(everything).not.toContain(secret);
  });

  it('reuses the session on the next request and records the error codes of a failed operation', async () => {
    const answer = await post(base, 'query Missing { product(id: "nope") { sku } }', undefined, { traceparent, 'x-router-secret': ROUTER_SECRET });
    expect(answer.status).toBe(200);
    const operation = await operationSpan();
    expect(operation.name).toBe('query Missing');
    const codes = operation.attributes['graphql.error.codes'];
    if (answer.body.errors?.length) expect(codes).toEqual([...new Set(answer.body.errors.map((e) => e.extensions?.code))]);
    const upstream = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    for (const span of upstream) expect(span.attributes['wsz.session.reused']).toBe(true);
  });

  it('starts a new trace when the router sends no traceparent', async () => {
    await post(base, 'query { __typename }', undefined, { 'x-router-secret': ROUTER_SECRET });
    const operation = await operationSpan();
    expect(operation.spanContext().traceId).not.toBe(TRACE_ID);
    expect(parentOf(operation)).toBeUndefined();
    expect(operation.name).toBe('query');
  });
});
