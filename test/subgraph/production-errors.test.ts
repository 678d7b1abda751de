import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger, type CapturedLogger } from '../helpers/logs.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRODUCTS = '{ products(first: 2) { edges { node { sku } } } }';

interface Started {
  subgraph: TestSubgraph;
  logs: CapturedLogger;
}

async function start(production: boolean): Promise<Started> {
  const logs = captureLogger('info');
  const subgraph = await startTestSubgraph({ production, logger: logs.logger, client: { retries: 0 } });
  return { subgraph, logs };
}

function lineWith(logs: CapturedLogger, errorId: unknown) {
  const lines = logs.lines.filter((l) => l.errorId === errorId);
  expect(lines, `log lines with errorId ${String(errorId)}`).toHaveLength(1);
  return lines[0];
}

describe('in production', () => {
  let prod: Started;
  beforeAll(async () => {
    prod = await start(true);
  });
  afterAll(() => prod.subgraph.close());

  it("keeps the upstream path and 4D's error text in the log, and gives the client a code and an error id", async () => {
    await prod.subgraph.execute(PRODUCTS); // logged in: the fault hits the read, not the login
    prod.subgraph.emulator.failNext(1, 500);
    const result = await prod.subgraph.execute(PRODUCTS);
    expect(result.errors).toHaveLength(1);
    const error = result.errors![0];
    expect(error).toMatchObject({ message: 'The legacy ERP could not process this request', extensions: { code: 'UPSTREAM_ERROR' } });
    expect(error.extensions!.errorId).toMatch(UUID);
    const text = JSON.stringify(result);
    expect(text).not.toMatch(/\/rest|Artikel_Variante|Injected fault|errCode|4D rejected|\$filter|\$top/);

    const line = lineWith(prod.logs, error.extensions!.errorId);
    expect(line).toMatchObject({ level: 40, code: 'UPSTREAM_ERROR', msg: 'GraphQL operation failed' });
    const logged = JSON.stringify(line);
    expect(logged).toContain('/rest/Artikel_Variante');
    expect(logged).toContain('Injected fault: HTTP 500');
  });

  it('gives an unreadable legacy value a fixed message at its field, the detail in the log', async () => {
    const row = prod.subgraph.emulator.db.table('Artikel_Variante')!.rows()[5];
    prod.subgraph.emulator.db.table('Artikel_Variante')!.update(row.__KEY, { Preise: { Coll: [{ Art: 'Laden', Preis: 'auf Anfrage' }] } });
    const result = await prod.subgraph.execute('query($id: ID!) { product(id: $id) { sku retailPrice { amount } } }', { id: row.__KEY });
    expect(result.errors).toHaveLength(1);
    const error = result.errors![0];
    expect(error).toMatchObject({
      message: 'A value stored in the legacy ERP cannot be read for this field',
      path: ['product', 'retailPrice'],
      extensions: { code: 'UPSTREAM_ERROR' },
    });
    expect(JSON.stringify(error)).not.toMatch(/Artikel_Variante|Preise|auf Anfrage/);
    expect(JSON.stringify(lineWith(prod.logs, error.extensions!.errorId))).toContain('auf Anfrage');
  });

  it('says the ERP is unavailable when it does not answer, with an id that is in the log', async () => {
    prod.subgraph.emulator.dropNext(1);
    const result = await prod.subgraph.execute(PRODUCTS);
    const error = result.errors![0];
    expect(error).toMatchObject({ message: 'The legacy ERP is unavailable', extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(lineWith(prod.logs, error.extensions!.errorId)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('keeps the message of a client mistake (it names what was wrong), with an id that is in the log', async () => {
    const result = await prod.subgraph.execute('{ products(first: 100000) { totalCount } }');
    const error = result.errors![0];
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(error.message).toMatch(/first/);
    expect(error.extensions!.errorId).toMatch(UUID);
    expect(lineWith(prod.logs, error.extensions!.errorId)).toMatchObject({ level: 30, code: 'BAD_USER_INPUT' });
  });

  it('gives validation errors an id too', async () => {
    const result = await prod.subgraph.execute('{ products(first: 1) { noSuchField } }');
    const error = result.errors![0];
    expect(error.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(lineWith(prod.logs, error.extensions!.errorId)).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('never writes a cookie or a password into the log lines of failed operations', async () => {
    const text = JSON.stringify(prod.logs.lines);
    expect(text).not.toMatch(/WASID4D=[^[]|4DSID_[\w-]*=[^[]|"password":"[^[]/);
  });
});

describe('in development', () => {
  let dev: Started;
  beforeAll(async () => {
    dev = await start(false);
  });
  afterAll(() => dev.subgraph.close());

  it('keeps the upstream detail in the message, and the error id', async () => {
    dev.subgraph.emulator.failNext(1, 500);
    const result = await dev.subgraph.execute(PRODUCTS);
    const error = result.errors![0];
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(error.message).toContain('Injected fault: HTTP 500');
    expect(error.message).not.toContain(dev.subgraph.emulator.url);
    expect(lineWith(dev.logs, error.extensions!.errorId)).toMatchObject({ code: 'UPSTREAM_ERROR' });
  });
});
