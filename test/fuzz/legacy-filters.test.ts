/**
 * Filter fuzzing below GraphQL: seeded random `f` filter trees with hostile values over every
 * legacy table, and random `wsz fetch --where` expressions (parsed by the CLI's `parseWhere`, and a
 * share run through the whole command line). Each either selects exactly the rows an independent
 * evaluation of the emulator's store selects, or is refused naming the attribute before any
 * request; every `$filter` sent holds placeholders only.
 *
 * A failure names the seed and case index; rerun with `FUZZ_SEED=<seed>` to reproduce it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWhere, runCli } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLegacyClient, type LegacyClient } from '../../src/legacy/index.js';
import type { FilterNode } from '../../src/legacy/filter.js';
import { findAttribute, TABLES, type TableDef } from '../../src/legacy/tables.js';
import { evaluateNode, filterAttributes, NOT_ATTRIBUTES, randomNode, type LegacyExpectation } from './legacy-model.js';
import { hostileString, Random, textLike } from './hostile.js';
import { checkFilters } from './wire.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_901);
const NODES_PER_TABLE = 120;
const WHERES_PER_TABLE = 40;
const CLI_RUNS = 40;

let emulator: Emulator;
let client: LegacyClient;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  client = createLegacyClient({ environments: { test: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } }, defaultEnvironment: 'test', retryBaseMs: 5, pageSize: 5000 });
  await client.ping();
  // Hostile texts and missing values in the store, so that hostile filters have rows to find.
  const rnd = new Random(SEED);
  for (const table of TABLES) {
    const rows = emulator.db.table(table.name)!.rows();
    for (const attribute of table.attributes) {
      if (attribute.type === 'object') continue;
      for (let i = 0; i < 6; i++) {
        const value = attribute.type === 'string' && rnd.chance(0.7) ? hostileString(rnd).slice(0, 80).replace(/\p{Surrogate}/gu, '') : attribute.type === 'date' && rnd.chance(0.5) ? '0!0!0' : null;
        emulator.desktop.update(table.name, rnd.pick(rows).__KEY, { [attribute.name]: value });
      }
    }
  }
  dir = mkdtempSync(join(tmpdir(), 'wsz-fuzz-'));
});
afterAll(async () => {
  await client?.close();
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rowsOf = (table: TableDef) => emulator.db.table(table.name)!.rows();

/** Checks a refusal: it names one of the bad attributes (or says "too long" for a long enough filter), and nothing was sent. */
function expectRefused(error: unknown, want: LegacyExpectation, context: string): void {
  const message = (error as Error).message;
  if (/too long/.test(message) && want.bad.length === 0) expect(want.paramBytes, `${context}: refused as too long: ${message}`).toBeGreaterThan(4000);
  else expect(want.bad.some((name) => message.includes(name === '' ? '""' : name)), `${context}: "${message}" names none of ${want.bad.join(', ')}`).toBe(true);
  expect(emulator.counters.byTable, `${context}: refused after a request`).toSatisfy((t: Record<string, number>) => Object.values(t).every((n) => n === 0));
}

/** Runs `filter` through `fetchAll` and checks the outcome against `want`; returns whether it selected rows. */
async function check(table: TableDef, filter: FilterNode, want: LegacyExpectation, context: string): Promise<boolean> {
  emulator.resetCounters();
  let rows: Array<Record<string, unknown>> | undefined;
  let error: unknown;
  try {
    rows = await client.fetchAll(table.name, { filter, attributes: [table.attributes[0].name] });
  } catch (e) {
    error = e;
  }
  checkFilters(emulator.requestLog, table.name);
  if (error !== undefined) {
    expect((error as { code?: string }).code, `${context}: ${(error as Error).message}`).toBe('LEGACY_VALIDATION');
    expect(want.bad.length > 0 || /too long/.test((error as Error).message), `${context}: refused a valid filter: ${(error as Error).message}`).toBe(true);
    expectRefused(error, want, context);
    return false;
  }
  expect(want.bad, `${context}: accepted`).toEqual([]);
  const expected = rowsOf(table).filter(want.predicate).map((r) => r.__KEY).sort();
  expect(rows!.map((r) => r.__KEY as string).sort(), context).toEqual(expected);
  return true;
}

const describeNode = (node: unknown) => JSON.stringify(node, (_k, v: unknown) => (v instanceof Date ? `Date(${v.toISOString()})` : v));

describe(`legacy f filters, fuzzed (seed ${SEED})`, () => {
  it.each(TABLES.map((t) => [t.name, t] as const))(`%s: ${NODES_PER_TABLE} hostile filter trees select exactly the right rows or are refused naming the attribute`, async (name, table) => {
    const rnd = new Random(SEED + table.tableNumber * 104_729);
    let selected = 0;
    for (let i = 0; i < NODES_PER_TABLE; i++) {
      const node = randomNode(rnd, table, rowsOf(table));
      if (await check(table, node, evaluateNode(table, node), `${name} #${i} (seed ${SEED}) ${describeNode(node)}`)) selected++;
    }
    expect(selected).toBeGreaterThan(NODES_PER_TABLE / 4);
    expect(selected).toBeLessThan(NODES_PER_TABLE);
  });
});

// ---------------------------------------------------------------------------------------------
// wsz fetch --where

const WHERE_OPS = ['=', '!=', '<', '<=', '>', '>=', '^=', '*='] as const;
const OP_NODES: Record<string, 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'begins' | 'contains'> = { '=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte', '^=': 'begins', '*=': 'contains' };

interface Where {
  readonly expression: string;
  /** What the expression means by the documented grammar, or the name it must refuse. */
  readonly meaning: { node: FilterNode } | { refuse: string };
}

/** A random `--where` expression and its meaning: `attr<op>value`, spaces allowed around the operator, the value typed by the attribute. */
function randomWhere(rnd: Random, table: TableDef): Where {
  const attrs = filterAttributes(table);
  const name = rnd.chance(0.06) ? rnd.pick(NOT_ATTRIBUTES.filter((n) => /^[^\s!<>=^*]+$/.test(n))) : rnd.pick([...attrs, ...table.attributes.filter((a) => a.type === 'object')]).name;
  let op: string = rnd.pick(WHERE_OPS);
  const def = findAttribute(table, name);
  const existing = def ? rowsOf(table).map((r) => r[name]).filter((v) => v !== null && v !== undefined).map(String) : [];
  const text = rnd.chance(0.15) ? rnd.pick(['true', 'false', '2020-01-01', '2021-02-30', '42', '1.5', ' 7', '{"Coll":[]}', '']) : textLike(rnd, existing);
  const expression = `${name}${rnd.chance(0.2) ? ' ' : ''}${op}${rnd.chance(0.2) ? ' ' : ''}${text}`;
  // The grammar: the operator is the longest one after the name, and blanks around it are dropped.
  let value = expression.slice(expression.indexOf(op, name.length) + op.length);
  if ((op === '<' || op === '>') && value.startsWith('=')) {
    op += '=';
    value = value.slice(1);
  }
  value = value.trimStart();
  if (!def) return { expression, meaning: { refuse: name } };
  let typed: unknown = value;
  if (def.type === 'long' || def.type === 'number') {
    typed = Number(value);
    if (value.trim() === '' || !Number.isFinite(typed)) return { expression, meaning: { refuse: name } };
  } else if (def.type === 'bool') {
    if (value !== 'true' && value !== 'false') return { expression, meaning: { refuse: name } };
    typed = value === 'true';
  } else if (def.type === 'date') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return { expression, meaning: { refuse: name } };
  } else if (def.type === 'object') {
    try {
      typed = JSON.parse(value);
    } catch {
      return { expression, meaning: { refuse: name } };
    }
  }
  if (op === '^=' || op === '*=') typed = String(typed);
  return { expression, meaning: { node: { kind: 'compare', op: OP_NODES[op], attr: name, value: typed as never } } };
}

describe(`wsz fetch --where, fuzzed (seed ${SEED})`, () => {
  it(`${WHERES_PER_TABLE} hostile expressions per table select exactly the right rows or are refused naming the attribute`, async () => {
    let selected = 0;
    for (const table of TABLES) {
      const rnd = new Random(SEED + table.tableNumber * 7_727);
      for (let i = 0; i < WHERES_PER_TABLE; i++) {
        const { expression, meaning } = randomWhere(rnd, table);
        const context = `${table.name} #${i} (seed ${SEED}) --where ${JSON.stringify(expression)}`;
        let node: FilterNode;
        try {
          node = parseWhere(table, expression);
        } catch (error) {
          expect(meaning, `${context}: ${(error as Error).message}`).toHaveProperty('refuse');
          expect((error as Error).message, context).toContain((meaning as { refuse: string }).refuse);
          continue;
        }
        expect(meaning, `${context} was accepted`).toHaveProperty('node');
        const intended = (meaning as { node: FilterNode }).node;
        expect(node, context).toEqual(intended);
        if (await check(table, node, evaluateNode(table, intended), context)) selected++;
      }
    }
    expect(selected).toBeGreaterThan((TABLES.length * WHERES_PER_TABLE) / 4);
  });

  it(`${CLI_RUNS} hostile expressions through the whole command line print exactly the right rows or exit 2 naming the attribute`, async () => {
    const env = { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent', WSZ_SESSION_FILE: join(dir, 'sessions.json') };
    const rnd = new Random(SEED + 31);
    let printed = 0;
    for (let i = 0; i < CLI_RUNS; i++) {
      const table = rnd.pick(TABLES.filter((t) => t.name !== 'Belege_Pos'));
      const { expression, meaning } = randomWhere(rnd, table);
      const context = `${table.name} #${i} (seed ${SEED}) --where ${JSON.stringify(expression)}`;
      let out = '';
      let err = '';
      emulator.resetCounters();
      const code = await runCli(['fetch', table.name, '--all', '--where', expression, '--attributes', table.attributes[0].name], { out: (s) => (out += s), err: (s) => (err += s), env });
      checkFilters(emulator.requestLog, table.name);
      const want = 'node' in meaning ? evaluateNode(table, meaning.node) : undefined;
      if (code === 0) {
        expect(want?.bad, `${context} printed rows`).toEqual([]);
        const keys = (JSON.parse(out) as Array<{ __KEY: string }>).map((r) => r.__KEY).sort();
        expect(keys, context).toEqual(rowsOf(table).filter(want!.predicate).map((r) => r.__KEY).sort());
        printed++;
      } else {
        expect(code, `${context}: ${err}`).toBe(2);
        expect(err, context).toMatch(/^wsz: /);
        expect(err, context).toContain('refuse' in meaning ? meaning.refuse : meaning.node.kind === 'compare' ? meaning.node.attr : '');
        expect(emulator.counters.byTable[table.name], `${context}: refused after a request`).toBe(0);
      }
    }
    expect(printed).toBeGreaterThan(CLI_RUNS / 4);
    expect(printed).toBeLessThan(CLI_RUNS);
  });
});
