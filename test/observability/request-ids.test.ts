/**
 * Request ids and logs over HTTP: an access log line per request, the id taken from a valid
 * X-Request-Id (else generated) and echoed, the same id in every log line about the upstream for
 * that request, hostile ids replaced, and nothing of the caller's headers reaching the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestIdOf, requestLogFields } from '../../src/observability/request-scope.js';
import { captureLogger, type LogLine } from '../helpers/logs.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import { listen, post, rawPost } from './http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const logs = captureLogger('debug', { mixin: requestLogFields });
let subgraph: TestSubgraph;
let base: string;
let sku: string;
const BY_SKU = 'query($sku: String!) { productBySku(sku: $sku) { sku name } }';

beforeAll(async () => {
  subgraph = await startTestSubgraph({ logger: logs.logger, client: { logger: logs.logger } });
  base = await listen(subgraph.server);
  sku = String(subgraph.emulator.db.table('Artikel_Variante')!.rows()[0]!.Nummer);
});
afterAll(() => subgraph.close());

/** The lines about the upstream (the legacy client's `4D request` lines) of request `id`. */
const upstreamLines = (id: string): LogLine[] => logs.lines.filter((l) => l.msg === '4D request' && l.requestId === id);

describe('request ids', () => {
  it('echoes a valid X-Request-Id and carries it into every upstream log line and the access line', async () => {
    const id = 'router-req-4711.a_b';
    const answer = await post(base, BY_SKU, { sku }, { 'x-request-id': id });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-request-id')).toBe(id);
    expect(upstreamLines(id).length).toBeGreaterThan(0);
    // Every line the client wrote about this request's upstream call carries the id.
    const ours = logs.lines.filter((l) => l.msg === '4D request' && l.path === '/rest/Artikel_Variante');
    expect(ours.every((l) => typeof l.requestId === 'string')).toBe(true);
    const access = logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === id && l.msg === 'request completed');
    expect(access).toMatchObject({ req: { method: 'POST', url: '/graphql' }, res: { statusCode: 200 } });
  });

  it('generates an id when there is none, and a different one per request', async () => {
    const a = await post(base, BY_SKU, { sku });
    const b = await post(base, BY_SKU, { sku });
    const idA = a.headers.get('x-request-id')!;
    expect(idA).toMatch(UUID);
    expect(b.headers.get('x-request-id')).not.toBe(idA);
    expect(upstreamLines(idA).length).toBeGreaterThan(0);
  });

  it('replaces a hostile X-Request-Id (10 kB, control characters, spaces, quotes) with a generated one', async () => {
    for (const hostile of ['x'.repeat(10_000), 'two words', 'a"b', 'back\\slash']) {
      const answer = await post(base, BY_SKU, { sku }, { 'x-request-id': hostile });
      expect(answer.status).toBe(200);
      const id = answer.headers.get('x-request-id')!;
      expect(id).toMatch(UUID);
      expect(upstreamLines(id).length).toBeGreaterThan(0);
    }
    expect(logs.text()).not.toContain('x'.repeat(200));
    // Control characters fetch would refuse to send: over a raw socket.
    const body = JSON.stringify({ query: BY_SKU, variables: { sku } });
    for (const hostile of ['tab\there', 'caf\u00e9']) {
      const answer = await rawPost(base, `X-Request-Id: ${hostile}\r\n`, body);
      expect({ hostile, status: answer.status }).toEqual({ hostile, status: 200 });
      expect(answer.headers['x-request-id']).toMatch(UUID);
      expect(upstreamLines(answer.headers['x-request-id']!).length).toBeGreaterThan(0);
    }
    // Node's HTTP parser itself refuses other control characters: the request never reaches the subgraph.
    expect((await rawPost(base, 'X-Request-Id: evil\u0001id\u007f\r\n', body)).status).toBe(400);
    expect(logs.text()).not.toContain('evil');
  });

  it('replaces ids with a newline or CR (not sendable over HTTP/1.1, so checked on the reader)', () => {
    for (const hostile of ['a\nb', 'a\r\nSet-Cookie: x=1', '', 'ä', 'x'.repeat(129)]) expect(requestIdOf(hostile)).toMatch(UUID);
    expect(requestIdOf(['a', 'b'])).toMatch(UUID);
    expect(requestIdOf('x'.repeat(128))).toBe('x'.repeat(128));
  });

  it('logs no request id on lines outside a request', () => {
    expect(requestLogFields()).toEqual({});
  });
});

describe('headers never reach the upstream', () => {
  it('sends only the client’s own headers to 4D, whatever the caller sent', async () => {
    subgraph.emulator.resetCounters();
    const answer = await post(base, BY_SKU, { sku }, {
      'x-request-id': 'abc-123',
      'x-evil': '1',
      'x-router-secret': 'router-secret-0123456789',
      authorization: 'Bearer caller-token',
      cookie: 'WASID4D=stolen',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-forwarded-for': '10.0.0.1',
    });
    expect(answer.status).toBe(200);
    expect(subgraph.emulator.requestLog.length).toBeGreaterThan(0);
    const own = new Set(['accept', 'content-type', 'content-length', 'cookie', 'host', 'connection']);
    for (const entry of subgraph.emulator.requestLog) {
      const names = entry.headerNames ?? [];
      expect(names.filter((n) => !own.has(n))).toEqual([]);
      for (const foreign of ['x-request-id', 'x-evil', 'x-router-secret', 'traceparent', 'x-forwarded-for']) expect(names).not.toContain(foreign);
    }
  });
});
