/**
 * The audit log: one line per write through the client (update, bulk update, pushField, the
 * compatibility module's pushData) with its outcome — saved, conflict, error — the table, keys and
 * field names but never the values; inside a GraphQL request also the request id and the caller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWszApi, configureWszApi, pushData } from '../../src/compat/wsz-api.js';
import { auditLog } from '../../src/observability/audit.js';
import { requestLogFields } from '../../src/observability/request-scope.js';
import type { LegacyClient } from '../../src/legacy/index.js';
import { captureLogger, type LogLine } from '../helpers/logs.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import { legacyFixture, tableRows, type LegacyFixture } from '../legacy/setup.js';
import { listen, post, UPDATE_PRODUCT } from './http.js';

const SECRET_VALUE = 'Geheim-Vorkasse-4711';

describe('audit lines of the client', () => {
  const logs = captureLogger('info', { mixin: requestLogFields });
  let fx: LegacyFixture;
  let client: LegacyClient;
  let next = 60;
  const freshRow = () => tableRows(fx.emulator, 'Kunden')[next++]!;
  const audits = (): LogLine[] => logs.lines.filter((l) => l.audit === 'write');

  beforeAll(async () => {
    fx = await legacyFixture();
    client = fx.newClient({ logger: logs.logger });
    client.subscribeAudit(auditLog(logs.logger, 'cli'));
  });
  afterAll(async () => {
    await closeWszApi();
    await fx?.close();
  });

  it('logs a saved update with table, key, field names and the local caller, never the value', async () => {
    const row = freshRow();
    await client.update('Kunden', row.__KEY, row.__STAMP, { Zahlungsart: SECRET_VALUE, Rabatt: 3 });
    const [line, ...more] = audits().filter((l) => (l.keys as string[]).includes(row.__KEY));
    expect(more).toEqual([]);
    expect(line).toMatchObject({ via: 'cli', table: 'Kunden', keys: [row.__KEY], fields: ['Zahlungsart', 'Rabatt'], outcome: 'saved', level: 30 });
    expect(String(line!.caller)).toMatch(/^local:/);
    expect(line!.requestId).toBeUndefined();
    expect(logs.text()).not.toContain(SECRET_VALUE);
  });

  it('logs a stale stamp as conflict, once', async () => {
    const row = freshRow();
    await expect(client.update('Kunden', row.__KEY, row.__STAMP - 1, { Zahlungsart: 'x' })).rejects.toThrow();
    const lines = audits().filter((l) => (l.keys as string[]).includes(row.__KEY));
    expect(lines.map((l) => l.outcome)).toEqual(['conflict']);
  });

  it('logs a write refused before sending (unknown field) as error with the error class', async () => {
    const row = freshRow();
    await expect(client.update('Kunden', row.__KEY, row.__STAMP, { KeinFeld: SECRET_VALUE })).rejects.toThrow();
    const lines = audits().filter((l) => (l.keys as string[]).includes(row.__KEY));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ outcome: 'error', error: 'LegacyValidationError', fields: ['KeinFeld'] });
    expect(logs.text()).not.toContain(SECRET_VALUE);
  });

  it('logs a bulk update with every key, and a non-atomic one with saved and conflict lines', async () => {
    const a = freshRow();
    const b = freshRow();
    await client.bulkUpdate('Kunden', [
      { key: a.__KEY, stamp: a.__STAMP, changes: { Rabatt: 1 } },
      { key: b.__KEY, stamp: b.__STAMP, changes: { Kreditlimit: 2 } },
    ]);
    const saved = audits().filter((l) => (l.keys as string[]).includes(a.__KEY));
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ outcome: 'saved', keys: [a.__KEY, b.__KEY], fields: ['Rabatt', 'Kreditlimit'] });

    const c = freshRow();
    const d = freshRow();
    await expect(
      client.bulkUpdate('Kunden', [{ key: c.__KEY, stamp: c.__STAMP, changes: { Rabatt: 1 } }, { key: d.__KEY, stamp: d.__STAMP - 1, changes: { Rabatt: 1 } }], { atomic: false }),
    ).rejects.toThrow();
    const outcomes = audits()
      .filter((l) => (l.keys as string[]).some((k) => k === c.__KEY || k === d.__KEY))
      .map((l) => [l.outcome, l.keys]);
    expect(outcomes).toEqual([
      ['saved', [c.__KEY]],
      ['conflict', [d.__KEY]],
    ]);
  });

  it('logs pushField and the compatibility module’s pushData (one line each)', async () => {
    const row = freshRow();
    await client.pushField('Kunden', row.__KEY, 'Zahlungsart', SECRET_VALUE);
    const other = freshRow();
    configureWszApi(client);
    await pushData('Kunden', 'Versandart', other.__KEY, 'Spedition');
    expect(audits().filter((l) => (l.keys as string[]).includes(row.__KEY))).toMatchObject([{ outcome: 'saved', fields: ['Zahlungsart'] }]);
    expect(audits().filter((l) => (l.keys as string[]).includes(other.__KEY))).toMatchObject([{ outcome: 'saved', fields: ['Versandart'] }]);
    expect(logs.text()).not.toContain(SECRET_VALUE);
  });
});

describe('audit lines of GraphQL mutations', () => {
  const logs = captureLogger('info', { mixin: requestLogFields });
  let subgraph: TestSubgraph;
  let base: string;

  beforeAll(async () => {
    subgraph = await startTestSubgraph({ logger: logs.logger, client: { logger: logs.logger }, server: { callerHeader: 'x-caller-id' } });
    subgraph.client.subscribeAudit(auditLog(logs.logger));
    base = await listen(subgraph.server);
  });
  afterAll(() => subgraph.close());

  it('names the request id and the caller of the router’s caller header', async () => {
    const row = subgraph.emulator.db.table('Artikel_Variante')!.rows()[3] as { __KEY: string; __STAMP: number };
    const answer = await post(base, UPDATE_PRODUCT, { id: row.__KEY, stamp: row.__STAMP, name: SECRET_VALUE }, { 'x-request-id': 'req-audit-1', 'x-caller-id': 'shop-frontend' });
    expect(answer.body.errors).toBeUndefined();
    const lines = logs.lines.filter((l) => l.audit === 'write');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ via: 'graphql', requestId: 'req-audit-1', caller: 'shop-frontend', table: 'Artikel_Variante', keys: [row.__KEY], fields: ['Bezeichnung'], outcome: 'saved' });
    expect(logs.text()).not.toContain(SECRET_VALUE);
  });

  it('logs a stale mutation as conflict, with an unnamed caller when the header is missing', async () => {
    const row = subgraph.emulator.db.table('Artikel_Variante')!.rows()[4] as { __KEY: string; __STAMP: number };
    await post(base, UPDATE_PRODUCT, { id: row.__KEY, stamp: row.__STAMP - 1, name: 'x' });
    const line = logs.lines.filter((l) => l.audit === 'write' && (l.keys as string[]).includes(row.__KEY));
    expect(line).toMatchObject([{ outcome: 'conflict', caller: 'unnamed', via: 'graphql' }]);
    expect(typeof line[0]!.requestId).toBe('string');
  });
});
