/**
 * Issue 9 item 7: `fetchAllPages` (and `fetchAll`) page through one 4D entity set on the emulator:
 * one query, a fixed membership, holes of deleted entities skipped, an expired set renewed or
 * reported, the set released at the end, when abandoned or aborted, and ordered paging where the
 * server refuses entity sets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LegacyEntitySetExpiredError, LegacyValidationError, type PullPage, type Row } from '../../src/legacy/index.js';
import { rejection } from '../helpers/assertions.js';
import { legacyFixture, tableRows, type LegacyFixture } from './setup.js';

let clock = Date.parse('2026-01-05T08:00:00Z');
let fx: LegacyFixture;

beforeAll(async () => {
  fx = await legacyFixture({ now: () => clock });
});
afterAll(() => fx?.close());
beforeEach(() => fx.emulator.resetCounters());

/** Belege in the natural order the pull uses (AbsNr ascending). */
const belege = () => [...tableRows(fx.emulator, 'Belege')].sort((a, b) => (a.AbsNr as number) - (b.AbsNr as number));
const paths = () => fx.emulator.requestLog.map((e) => decodeURIComponent(e.path));

async function drain(pages: AsyncIterable<PullPage>, between?: (page: PullPage, index: number) => void): Promise<{ rows: Row[]; pages: PullPage[] }> {
  const rows: Row[] = [];
  const seen: PullPage[] = [];
  for await (const page of pages) {
    rows.push(...page.rows);
    seen.push(page);
    between?.(page, seen.length - 1);
  }
  return { rows, pages: seen };
}

describe('fetchAllPages through an entity set', () => {
  it('runs the query once, pages the set, releases it, and logs in once', async () => {
    const client = fx.newClient();
    const expected = belege();
    const { rows, pages } = await drain(client.fetchAllPages('Belege', { pageSize: 40 }));
    expect(rows.map((r) => r.__KEY)).toEqual(expected.map((r) => r.__KEY));
    expect(pages.map((p) => p.paging)).toEqual(pages.map(() => 'entityset'));
    expect(pages.at(-1)).toMatchObject({ total: expected.length, position: expected.length, holes: 0 });
    const log = paths();
    expect(log.filter((p) => p.includes('$method=entityset'))).toHaveLength(1);
    expect(log.filter((p) => /\/\$entityset\/[0-9A-F]+\?.*\$skip=/.test(p))).toHaveLength(Math.ceil(expected.length / 40) - 1);
    expect(log.at(-1)).toMatch(/\$method=release$/);
    expect(fx.emulator.liveEntitySets()).toBe(0);
    expect(fx.emulator.counters.logins).toBe(1);
    await client.close();
  });

  it('asks for the next page only when the previous one has been consumed', async () => {
    const seenAt: number[] = [];
    await drain(fx.client.fetchAllPages('Belege', { pageSize: 50 }), () => seenAt.push(fx.emulator.counters.byTable.Belege!));
    // Page i is handed over after exactly i + 1 requests: none ahead of the consumer.
    expect(seenAt).toEqual(seenAt.map((_, i) => i + 1));
  });

  it('skips the { "__STAMP": 0 } holes of entities deleted during the pull', async () => {
    const expected = belege();
    const deleted = [expected[45]!.__KEY, expected[46]!.__KEY, expected[90]!.__KEY];
    const { rows, pages } = await drain(fx.client.fetchAllPages('Belege', { pageSize: 40 }), (_, i) => {
      if (i === 0) for (const key of deleted) fx.emulator.desktop.delete('Belege', key);
    });
    expect(rows.map((r) => r.__KEY)).toEqual(expected.map((r) => r.__KEY).filter((k) => !deleted.includes(k)));
    expect(pages.reduce((n, p) => n + p.holes, 0)).toBe(3);
    expect(pages.at(-1)!.position).toBe(expected.length);
  });

  it('renews an expired entity set and goes on from the same position when membership is unchanged', async () => {
    const expected = belege();
    const { rows } = await drain(fx.client.fetchAllPages('Belege', { pageSize: 30, entitySetTimeoutSeconds: 60 }), (_, i) => {
      if (i === 1) clock += 61_000; // the set expires between the second and the third page
    });
    expect(rows.map((r) => r.__KEY)).toEqual(expected.map((r) => r.__KEY));
    const log = paths();
    expect(log.filter((p) => p.includes('$method=entityset'))).toHaveLength(2);
    expect(log.filter((p) => p.includes('$method=entityset'))[1]).toContain('$skip=59');
    expect(log.filter((p) => p.includes('$timeout=60'))).toHaveLength(2);
    expect(fx.emulator.liveEntitySets()).toBe(0);
    expect(fx.logs.some((l) => l.includes('re-created with the same membership'))).toBe(true);
  });

  it('fails naming the entity set when it expired and the selection changed meanwhile', async () => {
    const before = belege();
    const error = await rejection(
      drain(fx.client.fetchAllPages('Belege', { pageSize: 30, entitySetTimeoutSeconds: 60 }), (_, i) => {
        if (i !== 0) return;
        fx.emulator.desktop.delete('Belege', before[100]!.__KEY);
        clock += 61_000;
      }),
    );
    expect(error).toBeInstanceOf(LegacyEntitySetExpiredError);
    // The id of the set 4D no longer knew: the one the refused page request named.
    const setId = paths().map((p) => /\$entityset\/([0-9A-F]+)\?.*\$skip=30/.exec(p)?.[1]).find(Boolean);
    expect(setId).toMatch(/^[0-9A-F]{32}$/);
    expect((error as LegacyEntitySetExpiredError).entitySet).toBe(setId);
    expect((error as LegacyEntitySetExpiredError).position).toBe(30);
    expect(error.message).toContain(setId);
    expect(error.message).toContain(`${before.length - 1} rows instead of ${before.length}`);
    expect(fx.emulator.liveEntitySets()).toBe(0);
  });

  it('releases the set when the consumer leaves the loop early or the signal aborts', async () => {
    for await (const page of fx.client.fetchAllPages('Belege', { pageSize: 20 })) {
      expect(page.rows).toHaveLength(20);
      expect(fx.emulator.liveEntitySets()).toBe(1);
      break;
    }
    expect(fx.emulator.liveEntitySets()).toBe(0);
    const controller = new AbortController();
    const { pages } = await drain(fx.client.fetchAllPages('Belege', { pageSize: 20, signal: controller.signal }), (_, i) => {
      if (i === 1) controller.abort();
    });
    expect(pages).toHaveLength(2);
    expect(fx.emulator.liveEntitySets()).toBe(0);
    expect(paths().at(-1)).toMatch(/\$method=release$/);
  });

  it('refuses a bad paging option before any request', async () => {
    const before = fx.emulator.counters.requests;
    expect(() => fx.client.fetchAllPages('Belege', { paging: 'parallel' as never })).toThrow(LegacyValidationError);
    expect(() => fx.client.fetchAllPages('Belege', { entitySetTimeoutSeconds: 0 })).toThrow(/entitySetTimeoutSeconds/);
    expect(fx.emulator.counters.requests).toBe(before);
  });
});

describe('the emulator holds entity sets as strictly as 4D', () => {
  const auth = { Authorization: `Basic ${Buffer.from('wsz:S3cr3t-Pa55word!').toString('base64')}` };
  const rest = async (path: string) => {
    const response = await fetch(`${fx.emulator.url}${path}`, { headers: auth });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('forgets a set idle past its $timeout (each use restarts it), also for a release', async () => {
    const created = await rest('/rest/Formen?$method=entityset&$top=1&$timeout=30');
    const uri = created.body.__ENTITYSET as string;
    clock += 29_000;
    expect((await rest(`${uri}?$skip=1&$top=1`)).status).toBe(200); // used: 30 s again from now
    clock += 29_000;
    expect((await rest(`${uri}?$skip=2&$top=1`)).status).toBe(200);
    clock += 30_000;
    const expired = await rest(`${uri}?$skip=3&$top=1`);
    expect(expired.status).toBe(404);
    expect(expired.body).toMatchObject({ __ERROR: [{ errCode: 1802 }] });
    const again = await rest('/rest/Formen?$method=entityset&$top=1&$timeout=30');
    clock += 30_000;
    expect((await rest(`${again.body.__ENTITYSET as string}?$method=release`)).body).toMatchObject({ __ERROR: [{ errCode: 1802 }] });
    expect(fx.emulator.liveEntitySets()).toBe(0);
  });
});

describe('a server that refuses entity sets', () => {
  let refusing: LegacyFixture;
  beforeAll(async () => {
    refusing = await legacyFixture({ entitySets: false });
  });
  afterAll(() => refusing?.close());

  it('is paged by $skip/$top ordered with __KEY last, every row once', async () => {
    const expected = [...tableRows(refusing.emulator, 'Belege')].sort((a, b) => (a.AbsNr as number) - (b.AbsNr as number));
    refusing.emulator.resetCounters();
    const rows = await refusing.client.fetchAll('Belege', { pageSize: 45 });
    expect(rows.map((r) => r.__KEY)).toEqual(expected.map((r) => r.__KEY));
    const log = refusing.emulator.requestLog.map((e) => decodeURIComponent(e.path));
    const data = log.filter((p) => p.startsWith('/rest/Belege'));
    expect(data[0]).toContain('$method=entityset');
    expect(data.slice(1)).toHaveLength(Math.ceil(expected.length / 45));
    for (const p of data.slice(1)) expect(p).toContain('$orderby="AbsNr asc,__KEY asc"');
    expect(refusing.logs.some((l) => l.includes('refuses entity sets'))).toBe(true);
  });

  it("answers $method=entityset with 4D's 'not applicable' error", async () => {
    const response = await fetch(`${refusing.emulator.url}/rest/Belege?$method=entityset&$top=1`, { headers: { Authorization: `Basic ${Buffer.from('wsz:S3cr3t-Pa55word!').toString('base64')}` } });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ __ERROR: [{ errCode: 1813 }] });
    expect(refusing.emulator.liveEntitySets()).toBe(0);
  });
});
