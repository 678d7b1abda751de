import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createLegacyClient } from '../../src/legacy/index.js';
import { Readiness, type ReadinessReport } from '../../src/health.js';
import { createMetrics } from '../../src/metrics.js';
import { buildServer } from '../../src/server.js';
import { captureLogger } from '../helpers/logs.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;
let base: string;
const logs = captureLogger('info');

async function listen(server: { httpServer: import('node:http').Server }): Promise<string> {
  await new Promise<void>((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
}

async function ready(url: string): Promise<{ status: number; body: ReadinessReport }> {
  const response = await fetch(`${url}/ready`);
  return { status: response.status, body: (await response.json()) as ReadinessReport };
}

function graphql(url: string, query: string, variables?: Record<string, unknown>) {
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
}

const ANY_FAMILY = '{ productFamily(id: "00000000000000000000000000000000") { id } }';

beforeAll(async () => {
  subgraph = await startTestSubgraph({ logger: logs.logger });
  base = await listen(subgraph.server);
});
afterAll(() => subgraph.close());

describe('HTTP routes', () => {
  it('answers /health while the process is up', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves GraphQL over POST /graphql', async () => {
    const sku = subgraph.emulator.db.table('Artikel_Variante')!.rows()[0].Nummer;
    const response = await graphql(base, 'query($sku: String!) { productBySku(sku: $sku) { sku } }', { sku });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { productBySku: { sku } } });
  });

  it('serves the Apollo Sandbox landing page to a browser outside production', async () => {
    const response = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('sandbox');
  });

  it('exposes Prometheus metrics with upstream requests by table, and the readiness and upstream state', async () => {
    await graphql(base, ANY_FAMILY);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/legacy_upstream_requests_total\{[^}]*table="Artikel_Familie"[^}]*\} [1-9]/);
    expect(text).toMatch(/graphql_operations_total\{operation="query",outcome="success"\} [1-9]/);
    expect(text).toMatch(/^subgraph_ready 1$/m);
    expect(text).toMatch(/^legacy_upstream_available\{environment="test"\} 1$/m);
    expect(text).toMatch(/^legacy_upstream_session_present\{environment="test"\} 1$/m);
    expect(text).toMatch(/^legacy_upstream_breaker_open\{environment="test"\} 0$/m);
    expect(text).toMatch(/^legacy_upstream_last_success_timestamp_seconds\{environment="test"\} \d{10}/m);
    expect(text).toMatch(/^legacy_session_events_total\{environment="test",event="login"\} 1$/m);
  });
});

describe('/ready', () => {
  it('answers 200 with the upstream state in its body, from what the client already knows', async () => {
    await graphql(base, ANY_FAMILY);
    const { status, body } = await ready(base);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ready',
      ready: true,
      inFlight: 0,
      upstream: { environment: 'test', state: 'ok', session: { present: true }, breaker: { open: false }, consecutiveFailures: 0 },
    });
    expect(Date.parse(body.upstream!.lastSuccess!.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(body)).not.toMatch(/WASID|4DSID|cookie|password/i);
  });

  it('costs no upstream request: 100 probes, 0 requests at the emulator', async () => {
    await graphql(base, ANY_FAMILY);
    subgraph.emulator.resetCounters();
    const answers = await Promise.all(Array.from({ length: 100 }, () => ready(base)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('stays 200 while the ERP fails, saying so in the body, and shows the recovery', async () => {
    subgraph.emulator.failNext(10, 503);
    const failed = (await (await graphql(base, ANY_FAMILY)).json()) as { errors?: Array<{ extensions: { code: string } }> };
    expect(failed.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    subgraph.emulator.resetCounters();
    const down = await ready(base);
    expect(down.status).toBe(200);
    expect(down.body.upstream).toMatchObject({ state: 'failing', lastFailure: { status: 503 } });
    expect(down.body.upstream!.consecutiveFailures).toBeGreaterThan(0);
    expect(subgraph.emulator.counters.requests).toBe(0);

    // The faults left over are consumed by the next queries; then the ERP answers again.
    for (let i = 0; i < 10; i++) {
      const again = (await (await graphql(base, ANY_FAMILY)).json()) as { errors?: unknown };
      if (!again.errors) break;
    }
    expect((await ready(base)).body.upstream).toMatchObject({ state: 'ok', consecutiveFailures: 0 });
  });
});

describe('/ready of a subgraph whose ERP is gone, or that starts or drains', () => {
  const opened: TestSubgraph[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
  });

  it('stays 200 when the ERP stops answering altogether (connection refused)', async () => {
    const gone = await startTestSubgraph({ client: { retries: 0 } });
    opened.push(gone);
    const url = await listen(gone.server);
    await graphql(url, ANY_FAMILY);
    await gone.emulator.close();
    const result = (await (await graphql(url, ANY_FAMILY)).json()) as { errors?: Array<{ extensions: { code: string } }> };
    expect(result.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const { status, body } = await ready(url);
    expect(status).toBe(200);
    expect(body.upstream).toMatchObject({ state: 'failing', session: { present: true } });
    expect(body.upstream!.lastFailure!.status).toBeUndefined();
    expect(body.upstream!.lastFailure!.errorCode).toBeTruthy();
  });

  it('answers 503 "starting" until the server is started', async () => {
    const client = createLegacyClient({ environments: { x: { baseUrl: 'http://127.0.0.1:9' } }, defaultEnvironment: 'x' });
    const readiness = new Readiness();
    readiness.watchSessions('x', () => client.sessionState());
    const server = buildServer({ source: client, readiness, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) });
    const url = await listen(server);
    try {
      const before = await ready(url);
      expect(before.status).toBe(503);
      expect(before.body).toMatchObject({ status: 'starting', ready: false, upstream: { state: 'unknown', session: { present: false } } });
      await server.start();
      expect((await ready(url)).status).toBe(200);
    } finally {
      await server.stop(0);
      await client.close();
    }
  });

  it('answers 503 "draining" while in-flight requests finish, then closes', async () => {
    const slow = await startTestSubgraph();
    opened.push(slow);
    const url = await listen(slow.server);
    await graphql(url, ANY_FAMILY);
    slow.emulator.setLatency(600);
    const inFlight = graphql(url, ANY_FAMILY);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(slow.server.readiness.inFlight).toBe(1);
    const stopped = slow.server.stop(5000);
    const during = await ready(url);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ status: 'draining', ready: false, inFlight: 1 });
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ data: { productFamily: null } });
    await stopped;
    expect(slow.server.httpServer.listening).toBe(false);
  });

  it('closes connections still busy when the grace period is over', async () => {
    const hung = await startTestSubgraph({ client: { timeoutMs: 30_000, retries: 0 } });
    opened.push(hung);
    const url = await listen(hung.server);
    hung.emulator.hangNext(1);
    const stuck = graphql(url, ANY_FAMILY).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await hung.server.stop(300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await stuck).toBe('cut');
  });
});

describe('requests refused before GraphQL', () => {
  it('answers malformed JSON with a JSON BAD_REQUEST error, no HTML, no stack, and logs one JSON line', async () => {
    logs.lines.length = 0;
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "{ __typename }", "variables": {"password": "hunter22"',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string; errorId: string } }> };
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({ message: 'The request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } });
    expect(JSON.stringify(body)).not.toMatch(/hunter22|<html|<pre|\n\s+at |node_modules|SyntaxError/i);
    const line = logs.lines.find((l) => l.errorId === body.errors[0].extensions.errorId);
    expect(line).toMatchObject({ status: 400, type: 'entity.parse.failed', code: 'BAD_REQUEST', url: '/graphql' });
    expect(logs.text()).not.toContain('hunter22');
  });

  it('answers a body over 1 MB with 413 and a JSON error naming the limit', async () => {
    logs.lines.length = 0;
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(1_100_000)}` }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string; errorId: string } }> };
    expect(body.errors[0]).toMatchObject({ message: 'The request body is larger than the limit of 1048576 bytes', extensions: { code: 'BAD_REQUEST' } });
    expect(logs.lines.find((l) => l.errorId === body.errors[0].extensions.errorId)).toMatchObject({ status: 413, type: 'entity.too.large' });
  });

  it("gives Apollo's own refusal of a request without a query an error id that is in the log", async () => {
    logs.lines.length = 0;
    const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string; errorId: string } }> };
    expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(logs.lines.filter((l) => l.errorId === body.errors[0].extensions.errorId)).toHaveLength(1);
  });

  it('answers an unsupported charset with 415 and a JSON error', async () => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=klingon' },
      body: '{"query":"{ __typename }"}',
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });
});
