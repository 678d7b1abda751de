/**
 * Write events: one per outcome of every write (update, bulk update atomic or not, pushField, the
 * compatibility module's pushData, which writes through the client), with tags and the saved rows;
 * `conflict` for a stale stamp; listeners awaited before the write settles; a failing listener
 * logged and harmless. Lost answers are covered in `writes-lost.test.ts`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeWszApi, configureWszApi, pushData } from '../../src/compat/wsz-api.js';
import { LegacyBulkUpdateError, LegacyStampConflictError, type LegacyClient, type UpstreamRequestEvent, type WriteEvent } from '../../src/legacy/index.js';
import { rejection } from '../helpers/assertions.js';
import { legacyFixture, tableRows, type LegacyFixture } from './setup.js';

let fx: LegacyFixture;
let client: LegacyClient;
const events: WriteEvent[] = [];
let onAttempt: ((event: UpstreamRequestEvent) => void) | undefined;

beforeAll(async () => {
  fx = await legacyFixture();
  client = fx.newClient({ onWrite: (event) => void events.push(event), onUpstreamRequest: (event) => onAttempt?.(event) });
  await client.ping();
});
afterAll(async () => {
  await closeWszApi();
  await fx?.close();
});
afterEach(() => {
  events.length = 0;
  onAttempt = undefined;
});

let next = 40;
const freshRow = () => tableRows(fx.emulator, 'Kunden')[next++]!;
const live = (key: string) => fx.emulator.db.table('Kunden')!.get(key)!;

describe('write events', () => {
  it('pushField that retries after a stale stamp emits one saved event', async () => {
    const row = freshRow();
    // Someone saves between pushField's read and its write: the first update meets a stale stamp.
    onAttempt = (event) => {
      if (event.route === 'entity' && event.status === 200) {
        onAttempt = undefined;
        fx.emulator.db.table('Kunden')!.update(row.__KEY, { Rabatt: 1.5 });
      }
    };
    const saved = await client.pushField('Kunden', row.__KEY, 'Versandart', 'Kurier');
    expect(saved).toMatchObject({ __STAMP: row.__STAMP + 2, Versandart: 'Kurier' });
    expect(events).toEqual([
      { environment: 'test', table: 'Kunden', keys: [row.__KEY], outcome: 'saved', tags: ['Kunden', `Kunden:${row.__KEY}`], rows: [saved] },
    ]);
  });

  it('a non-atomic bulk update emits saved for what was saved and conflict for the stale items', async () => {
    const [a, b, c] = [freshRow(), freshRow(), freshRow()];
    const error = await rejection(
      client.bulkUpdate(
        'Kunden',
        [
          { key: a.__KEY, stamp: a.__STAMP, changes: { Rabatt: 2 } },
          { key: b.__KEY, stamp: b.__STAMP + 3, changes: { Rabatt: 2 } },
          { key: c.__KEY, stamp: c.__STAMP, changes: { Rabatt: 2 } },
        ],
        { atomic: false },
      ),
    );
    expect(error).toBeInstanceOf(LegacyBulkUpdateError);
    const saved = (error as LegacyBulkUpdateError).saved;
    expect(events).toEqual([
      { environment: 'test', table: 'Kunden', keys: [a.__KEY, c.__KEY], outcome: 'saved', tags: ['Kunden', `Kunden:${a.__KEY}`, `Kunden:${c.__KEY}`], rows: saved },
      { environment: 'test', table: 'Kunden', keys: [b.__KEY], outcome: 'conflict', tags: [`Kunden:${b.__KEY}`] },
    ]);
    expect(live(a.__KEY).Rabatt).toBe(2);
  });

  it('an atomic bulk update refused for a stale stamp emits one conflict event, and nothing for a refused write', async () => {
    const [a, b] = [freshRow(), freshRow()];
    await rejection(
      client.bulkUpdate('Kunden', [
        { key: a.__KEY, stamp: a.__STAMP, changes: { Rabatt: 3 } },
        { key: b.__KEY, stamp: b.__STAMP + 1, changes: { Rabatt: 3 } },
      ]),
    );
    expect(events.map((e) => [e.outcome, e.keys])).toEqual([['conflict', [b.__KEY]]]);
    events.length = 0;
    // A record that does not exist: nothing saved, nothing changed behind anyone's back.
    await rejection(client.update('Kunden', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', 1, { Rabatt: 3 }));
    expect(events).toEqual([]);
  });

  it('awaits the listeners before a write rejects, too', async () => {
    const row = freshRow();
    const order: string[] = [];
    const unsubscribe = client.subscribeWrites(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push(`listener ${event.outcome}`);
    });
    try {
      const error = await rejection(client.update('Kunden', row.__KEY, row.__STAMP + 1, { Rabatt: 4 }));
      order.push('update rejected');
      expect(error).toBeInstanceOf(LegacyStampConflictError);
      expect(order).toEqual(['listener conflict', 'update rejected']);
    } finally {
      unsubscribe();
    }
  });

  it('a listener that throws or rejects is logged at warn and changes nothing', async () => {
    const row = freshRow();
    const unsubscribe = [
      client.subscribeWrites(() => {
        throw new Error('sync listener broke');
      }),
      client.subscribeWrites(() => Promise.reject(new Error('async listener broke'))),
    ];
    try {
      const saved = await client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 5 });
      expect(saved).toMatchObject({ __STAMP: row.__STAMP + 1, Rabatt: 5 });
      expect(events.map((e) => e.outcome)).toEqual(['saved']);
      const warned = fx.logs.filter((l) => l.includes('write listener failed')).map((l) => JSON.parse(l) as { level: number; err: string });
      expect(warned.map((l) => l.err).sort()).toEqual(['async listener broke', 'sync listener broke']);
      expect(warned.every((l) => l.level === 40)).toBe(true);
    } finally {
      for (const u of unsubscribe) u();
    }
  });

  it('the compatibility module writes through the client, so its writes are events too', async () => {
    const row = freshRow();
    configureWszApi(client);
    expect(await pushData('Kunden', 'Versandart', row.__KEY, 'Selbstabholung')).toBe(true);
    expect(events.map((e) => [e.outcome, e.keys])).toEqual([['saved', [row.__KEY]]]);
  });
});
