/**
 * Writes whose answer was lost: the client never replays the update; it waits `writeRecheckDelayMs`,
 * reads the record(s) back and reports saved (a success), not saved (`LegacyWriteNotSavedError`) or
 * unknown (`LegacyWriteOutcomeUnknownError`). Every case is checked against the emulator's data and
 * its request log (exactly one update POST), and the write events are recorded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import {
  createLegacyClient,
  LegacyAPIConnectionError,
  LegacyWriteNotSavedError,
  LegacyWriteOutcomeUnknownError,
  type LegacyClient,
  type UpstreamRequestEvent,
  type WriteEvent,
} from '../../src/legacy/index.js';
import { classifyRecord } from '../../src/legacy/writes.js';
import { requireTable } from '../../src/legacy/filter.js';
import { rejection } from '../helpers/assertions.js';
import { legacyFixture, PASSWORD, tableRows, USER, type LegacyFixture } from './setup.js';

const TIMEOUT_MS = 300;
const RECHECK_MS = 150;

let fx: LegacyFixture;
let client: LegacyClient;
const writes: WriteEvent[] = [];
/** A write event without its tags and rows (asserted in 'write events'). */
const brief = ({ environment, table, keys, outcome }: WriteEvent) => ({ environment, table, keys, outcome });
/** Called on every upstream attempt of {@link client}; tests set it to act at a precise moment. */
let onAttempt: ((event: UpstreamRequestEvent) => void) | undefined;

beforeAll(async () => {
  fx = await legacyFixture();
  client = fx.newClient({
    timeoutMs: TIMEOUT_MS,
    writeRecheckDelayMs: RECHECK_MS,
    onWrite: (event) => void writes.push(event),
    onUpstreamRequest: (event) => onAttempt?.(event),
  });
  await client.ping();
  fx.emulator.resetCounters();
});
afterAll(async () => {
  await fx?.close();
});
afterEach(() => {
  onAttempt = undefined;
  writes.length = 0;
  fx.emulator.resetCounters();
});

let nextRow = 20;
/** A Kunden row no other test touches. */
function freshRow(table = 'Kunden') {
  return tableRows(fx.emulator, table)[nextRow++]!;
}
const live = (key: string, table = 'Kunden') => fx.emulator.db.table(table)!.get(key)!;
const updatePosts = () => fx.emulator.requestLog.filter((e) => e.method === 'POST' && e.path.includes('$method=update')).length;
const reads = () => fx.emulator.requestLog.filter((e) => e.method === 'GET' && e.table).length;

describe('an update whose answer was lost', () => {
  it('is reported saved, with the re-read record, when 4D saved it (socket lost after processing)', async () => {
    const row = freshRow();
    fx.emulator.loseAnswerNext(1);
    const saved = await client.update('Kunden', row.__KEY, row.__STAMP, { Versandart: 'Spedition Nord', Rabatt: 7.5 });
    expect(saved).toMatchObject({ __KEY: row.__KEY, __STAMP: row.__STAMP + 1, Versandart: 'Spedition Nord', Rabatt: 7.5 });
    // The whole record, as an answer would have carried it.
    expect(saved.KundenNr).toBe(row.KundenNr);
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 1, Versandart: 'Spedition Nord', Rabatt: 7.5 });
    expect(updatePosts()).toBe(1);
    expect(reads()).toBe(1);
    expect(fx.emulator.counters.updates).toBe(1);
    expect(writes.map(brief)).toEqual([{ environment: 'test', table: 'Kunden', keys: [row.__KEY], outcome: 'saved' }]);
  });

  it('is reported saved when the answer comes after the client timeout although 4D saved at once', async () => {
    const row = freshRow();
    fx.emulator.delayAnswerNext(1, TIMEOUT_MS * 3);
    const started = performance.now();
    const saved = await client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 3 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS + RECHECK_MS - 5);
    expect(saved).toMatchObject({ __STAMP: row.__STAMP + 1, Rabatt: 3 });
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 1, Rabatt: 3 });
    expect(updatePosts()).toBe(1);
    expect(writes.map((w) => w.outcome)).toEqual(['saved']);
  });

  it('waits before re-reading, so a timed-out write that 4D finishes meanwhile is reported saved', async () => {
    const row = freshRow();
    // Processed 100 ms after the client gave up, 50 ms before the re-read.
    fx.emulator.slowNext(1, TIMEOUT_MS + 100);
    const saved = await client.update('Kunden', row.__KEY, row.__STAMP, { Versandart: 'Spät' });
    expect(saved).toMatchObject({ __STAMP: row.__STAMP + 1, Versandart: 'Spät' });
    expect(updatePosts()).toBe(1);
  });

  it('is reported not saved when the delayed re-read shows the stamp it was sent with (connection dropped before processing)', async () => {
    const row = freshRow();
    fx.emulator.dropNext(1);
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 9 }));
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    const e = error as LegacyWriteNotSavedError;
    expect(e).toBeInstanceOf(LegacyAPIConnectionError);
    expect(e.evidence).toBe('stampUnchanged');
    expect(e.table).toBe('Kunden');
    expect(e.keys).toEqual([row.__KEY]);
    expect(e.records).toEqual([expect.objectContaining({ key: row.__KEY, outcome: 'notSaved', sentStamp: row.__STAMP, currentStamp: row.__STAMP })]);
    expect(e.message).toContain('safe to send again');
    expect(live(row.__KEY)).toBe(row);
    expect(updatePosts()).toBe(1);
    expect(reads()).toBe(1);
    expect(writes).toEqual([]);
  });

  it('is reported not saved after a timeout when 4D never processed it', async () => {
    const row = freshRow();
    fx.emulator.hangNext(1);
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 9 }));
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    expect((error as LegacyWriteNotSavedError).timeout).toBe(true);
    expect((error as LegacyWriteNotSavedError).evidence).toBe('stampUnchanged');
    expect(live(row.__KEY)).toBe(row);
    expect(updatePosts()).toBe(1);
    expect(writes).toEqual([]);
  });

  it('reads back after an unreadable answer too (an HTML page where JSON was expected)', async () => {
    const row = freshRow();
    fx.emulator.garbageNext(1, 'html');
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 5 }));
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    expect((error as LegacyWriteNotSavedError).evidence).toBe('stampUnchanged');
    expect(reads()).toBe(1);
    expect(updatePosts()).toBe(1);
  });

  it('is reported unknown when someone else saved the record meanwhile (stamp moved, other values)', async () => {
    const row = freshRow();
    fx.emulator.loseAnswerNext(1);
    // A clerk saves the same record in the 4D desktop application right after our answer was lost.
    onAttempt = (event) => {
      if (event.route === 'update' && event.errorCode) fx.emulator.db.table('Kunden')!.update(row.__KEY, { Versandart: 'Abholung' });
    };
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Versandart: 'Post' }));
    expect(error).toBeInstanceOf(LegacyWriteOutcomeUnknownError);
    const e = error as LegacyWriteOutcomeUnknownError;
    expect(e.records).toEqual([expect.objectContaining({ key: row.__KEY, outcome: 'unknown', sentStamp: row.__STAMP, currentStamp: row.__STAMP + 2 })]);
    expect(e.records[0]!.reason).toContain('Versandart');
    expect(e.message).toContain('Read before sending again');
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 2, Versandart: 'Abholung' });
    expect(updatePosts()).toBe(1);
    expect(writes.map(brief)).toEqual([{ environment: 'test', table: 'Kunden', keys: [row.__KEY], outcome: 'unknown' }]);
  });

  it('is reported unknown when the re-read fails, even though 4D did save it', async () => {
    const row = freshRow();
    fx.emulator.loseAnswerNext(1);
    fx.emulator.failNext(4, 503); // the re-read and its 3 retries
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 4 }));
    expect(error).toBeInstanceOf(LegacyWriteOutcomeUnknownError);
    expect((error as LegacyWriteOutcomeUnknownError).records[0]!.reason).toContain('re-read failed');
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 1, Rabatt: 4 });
    expect(writes.map((w) => w.outcome)).toEqual(['unknown']);
  });

  it('documents the residual risk: a write 4D runs only after the re-read is reported not saved', async () => {
    const row = freshRow();
    // Processed long after the re-read (timeout 300 + recheck 150): writeRecheckDelayMs sizes this window.
    fx.emulator.slowNext(1, TIMEOUT_MS + RECHECK_MS + 400);
    const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 11 }));
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 1, Rabatt: 11 });
    expect(updatePosts()).toBe(1);
  });
});

describe('an update that never reached 4D', () => {
  it('is reported not saved without a re-read when the connection is refused', async () => {
    const emulator = await startEmulator({ port: 0, users: { [USER]: PASSWORD } });
    const c = createLegacyClient({
      environments: { x: { baseUrl: emulator.url, username: USER, password: PASSWORD } },
      defaultEnvironment: 'x',
      retries: 1,
      retryBaseMs: 1,
      retryMaxMs: 5,
      writeRecheckDelayMs: 10_000, // would make the test time out if it waited
    });
    try {
      await c.ping(); // the session is open; now the server goes away
      const row = emulator.db.table('Kunden')!.rows()[0]!;
      await emulator.close();
      // Let the pool notice that its keep-alive connection is gone: a write on a socket the server
      // had just closed would be ambiguous (it may have been read), a refused connect is not.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      const error = await rejection(c.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 1 }));
      expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
      expect((error as LegacyWriteNotSavedError).evidence).toBe('notSent');
      expect((error as LegacyWriteNotSavedError).notSent).toBe(true);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(emulator.db.table('Kunden')!.get(row.__KEY)).toBe(row);
    } finally {
      await c.close();
    }
  });

  it('is reported not saved when the login it needed failed (the update itself was never sent)', async () => {
    const emulator = await startEmulator({ port: 0, users: { [USER]: PASSWORD } });
    const c = createLegacyClient({
      environments: { x: { baseUrl: emulator.url, username: USER, password: PASSWORD } },
      defaultEnvironment: 'x',
      timeoutMs: TIMEOUT_MS,
      writeRecheckDelayMs: 10_000,
    });
    try {
      const row = emulator.db.table('Kunden')!.rows()[1]!;
      emulator.hangNext(1); // the login
      const error = await rejection(c.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 1 }));
      expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
      expect((error as LegacyWriteNotSavedError).evidence).toBe('notSent');
      expect(emulator.requestLog.some((e) => e.method === 'POST' && e.path.includes('$method=update'))).toBe(false);
      expect(emulator.db.table('Kunden')!.get(row.__KEY)).toBe(row);
    } finally {
      await c.close();
      await emulator.close();
    }
  });
});

describe('a bulk update whose answer was lost', () => {
  const items = (rows: ReturnType<typeof freshRow>[], tag: string) =>
    rows.map((r, i) => ({ key: r.__KEY, stamp: r.__STAMP, changes: { Versandart: `${tag} ${i}`, SkontoTage: 10 + i } }));

  it('is reported saved, in item order, when every item holds what was sent (atomic)', async () => {
    const rows = [freshRow(), freshRow(), freshRow()];
    fx.emulator.loseAnswerNext(1);
    const saved = await client.bulkUpdate('Kunden', items(rows, 'Bulk'));
    expect(saved.map((r) => [r.__KEY, r.__STAMP, r.Versandart])).toEqual(rows.map((r, i) => [r.__KEY, r.__STAMP + 1, `Bulk ${i}`]));
    for (const [i, r] of rows.entries()) expect(live(r.__KEY)).toMatchObject({ __STAMP: r.__STAMP + 1, Versandart: `Bulk ${i}`, SkontoTage: 10 + i });
    expect(updatePosts()).toBe(1);
    expect(writes.map(brief)).toEqual([{ environment: 'test', table: 'Kunden', keys: rows.map((r) => r.__KEY), outcome: 'saved' }]);
  });

  it('is reported not saved when every item still has its stamp', async () => {
    const rows = [freshRow(), freshRow()];
    fx.emulator.dropNext(1);
    const error = await rejection(client.bulkUpdate('Kunden', items(rows, 'Nie')));
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    expect((error as LegacyWriteNotSavedError).records.map((r) => r.outcome)).toEqual(['notSaved', 'notSaved']);
    for (const r of rows) expect(live(r.__KEY)).toBe(r);
    expect(updatePosts()).toBe(1);
    expect(writes).toEqual([]);
  });

  it('compares every item: one changed by someone else makes the atomic batch unknown', async () => {
    const rows = [freshRow(), freshRow(), freshRow()];
    fx.emulator.loseAnswerNext(1);
    onAttempt = (event) => {
      if (event.route === 'update' && event.errorCode) fx.emulator.db.table('Kunden')!.update(rows[1]!.__KEY, { SkontoTage: 99 });
    };
    const error = await rejection(client.bulkUpdate('Kunden', items(rows, 'Teil')));
    expect(error).toBeInstanceOf(LegacyWriteOutcomeUnknownError);
    const e = error as LegacyWriteOutcomeUnknownError;
    expect(e.records.map((r) => r.outcome)).toEqual(['saved', 'unknown', 'saved']);
    expect(e.records[1]!.reason).toContain('SkontoTage');
    expect(updatePosts()).toBe(1);
    expect(writes.map(brief)).toEqual([{ environment: 'test', table: 'Kunden', keys: rows.map((r) => r.__KEY), outcome: 'unknown' }]);
  });
});

describe('pushField', () => {
  it('reports a lost answer that 4D saved as the saved record, and never sends the field twice', async () => {
    const row = freshRow();
    // Lose the answer of the update, not of the read that gives pushField the current stamp.
    onAttempt = (event) => {
      if (event.route === 'entity' && event.status === 200 && updatePosts() === 0) fx.emulator.loseAnswerNext(1);
    };
    const pushed = await client.pushField('Kunden', row.__KEY, 'Versandart', 'DHL Express');
    expect(pushed).toMatchObject({ __STAMP: row.__STAMP + 1, Versandart: 'DHL Express' });
    expect(live(row.__KEY)).toMatchObject({ __STAMP: row.__STAMP + 1, Versandart: 'DHL Express' });
    expect(updatePosts()).toBe(1);
    expect(writes.map((w) => w.outcome)).toEqual(['saved']);
  });
});

describe('write events', () => {
  it('carry the tags and saved rows of every update and bulk update, and report a stamp conflict', async () => {
    const [a, b] = [freshRow(), freshRow()];
    const seen: WriteEvent[] = [];
    const unsubscribe = client.subscribeWrites((e) => void seen.push(e));
    const savedA = await client.update('Kunden', a.__KEY, a.__STAMP, { Rabatt: 1 });
    const savedB = await client.bulkUpdate('Kunden', [{ key: b.__KEY, stamp: b.__STAMP, changes: { Rabatt: 2 } }]);
    await rejection(client.update('Kunden', a.__KEY, a.__STAMP, { Rabatt: 3 }));
    unsubscribe();
    await rejection(client.update('Kunden', b.__KEY, b.__STAMP + 5, { Rabatt: 4 }));
    expect(seen).toEqual([
      { environment: 'test', table: 'Kunden', keys: [a.__KEY], outcome: 'saved', tags: ['Kunden', `Kunden:${a.__KEY}`], rows: [savedA] },
      { environment: 'test', table: 'Kunden', keys: [b.__KEY], outcome: 'saved', tags: ['Kunden', `Kunden:${b.__KEY}`], rows: savedB },
      // Nothing saved, no list changed: only the record, which changed behind the writer's back.
      { environment: 'test', table: 'Kunden', keys: [a.__KEY], outcome: 'conflict', tags: [`Kunden:${a.__KEY}`] },
    ]);
    expect(writes.map((w) => w.outcome)).toEqual(['saved', 'saved', 'conflict', 'conflict']);
  });

  it('a bulk update refused for a stale stamp reports the conflicting keys', async () => {
    const [a, b] = [freshRow(), freshRow()];
    await rejection(
      client.bulkUpdate('Kunden', [
        { key: a.__KEY, stamp: a.__STAMP, changes: { Rabatt: 5 } },
        { key: b.__KEY, stamp: b.__STAMP + 7, changes: { Rabatt: 5 } },
      ]),
    );
    expect(writes.map(brief)).toEqual([{ environment: 'test', table: 'Kunden', keys: [b.__KEY], outcome: 'conflict' }]);
  });

  it('the write resolves only after a listener’s promise settled, and a failing listener changes nothing', async () => {
    const a = freshRow();
    const order: string[] = [];
    const slow = client.subscribeWrites(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push('listener done');
    });
    const failing = client.subscribeWrites(async () => {
      throw new Error('listener broke');
    });
    try {
      const saved = await client.update('Kunden', a.__KEY, a.__STAMP, { Rabatt: 6 });
      order.push('update resolved');
      expect(saved.Rabatt).toBe(6);
      expect(order).toEqual(['listener done', 'update resolved']);
    } finally {
      slow();
      failing();
    }
  });
});

describe('classifyRecord', () => {
  const kunden = requireTable('Kunden');
  const variante = requireTable('Artikel_Variante');
  const sent = { __KEY: 'K', __STAMP: 4, Versandart: 'DHL', Rabatt: 2.5 };

  it('needs the stamp moved and every written attribute equal', () => {
    expect(classifyRecord(kunden, sent, { __KEY: 'K', __STAMP: 5, Versandart: 'DHL', Rabatt: 2.5 }).outcome).toBe('saved');
    expect(classifyRecord(kunden, sent, { __KEY: 'K', __STAMP: 7, Versandart: 'DHL', Rabatt: 2.5 }).outcome).toBe('saved');
    expect(classifyRecord(kunden, sent, { __KEY: 'K', __STAMP: 4, Versandart: 'DHL', Rabatt: 2.5 }).outcome).toBe('notSaved');
    expect(classifyRecord(kunden, sent, { __KEY: 'K', __STAMP: 5, Versandart: 'UPS', Rabatt: 2.5 }).outcome).toBe('unknown');
    expect(classifyRecord(kunden, sent, { __KEY: 'K', __STAMP: 3, Versandart: 'DHL', Rabatt: 2.5 }).outcome).toBe('unknown');
    expect(classifyRecord(kunden, sent, undefined).outcome).toBe('unknown');
  });

  it('compares dates by calendar day and objects structurally', () => {
    const dates = { __KEY: 'V', __STAMP: 1, Release_date: '5!3!2024', Auslaufdatum: '0!0!0', Preise: { Coll: [{ Art: 'Laden', Preis: 2, VE: 1 }] } };
    const back = { __KEY: 'V', __STAMP: 2, Release_date: '05!03!2024', Auslaufdatum: null, Preise: { Coll: [{ VE: 1, Preis: 2, Art: 'Laden' }] } };
    expect(classifyRecord(variante, dates, back).outcome).toBe('saved');
    expect(classifyRecord(variante, dates, { ...back, Preise: { Coll: [{ VE: 2, Preis: 2, Art: 'Laden' }] } }).outcome).toBe('unknown');
  });
});
