/**
 * Filter fuzzing through GraphQL: thousands of seeded random filters full of hostile strings go
 * through every list's filter input (as variables, and some as inline literals). Each must select
 * exactly the rows an independent evaluation over the emulator's store selects, or be refused as
 * BAD_USER_INPUT naming the field, before any upstream request. Every `$filter` the client sent
 * must hold only attribute names, operators and `:n` placeholders: no user text, ever.
 *
 * A failure names the seed and case index; rerun with `FUZZ_SEED=<seed>` to reproduce it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf, type EntityName, type Result } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import { findTable } from '../../src/legacy/tables.js';
import { evaluate, listSpec, literal, randomFilter, type ListSpec } from './graphql-model.js';
import { hostileString, Random } from './hostile.js';
import { checkFilters } from './wire.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_901);
const CASES_PER_LIST = 250;
const PAGE = 1000;

let subgraph: TestSubgraph;
const specs: ListSpec[] = [];

/** Puts hostile texts, nulls and empty dates into the store, so that hostile filters have rows to find. */
function seedHostileRows(rnd: Random, table: string): void {
  const t = subgraph.emulator.db.table(table)!;
  const rows = t.rows();
  for (const attribute of findTable(table)!.attributes) {
    for (let i = 0; i < 8; i++) {
      const row = rnd.pick(rows);
      let value: unknown;
      if (attribute.type === 'string') value = rnd.chance(0.25) ? null : hostileString(rnd).slice(0, 80).replace(/\p{Surrogate}/gu, '');
      else if (attribute.type === 'date') value = rnd.pick([null, '0!0!0']);
      else if (attribute.type === 'object') continue;
      else value = null;
      subgraph.emulator.desktop.update(table, row.__KEY, { [attribute.name]: value });
    }
  }
}

beforeAll(async () => {
  subgraph = await startTestSubgraph({ maxPageSize: PAGE, queryLimits: { maxRows: 1_000_000, maxTokens: 100_000 } });
  await subgraph.client.ping();
  const lists = (await subgraph.execute<{ __schema: { queryType: { fields: Array<{ name: string; args: Array<{ name: string; type: { name: string | null } }> }> } } }>(
    '{ __schema { queryType { fields { name args { name type { name } } } } } }',
  )).data!.__schema.queryType.fields.filter((f) => f.args.some((a) => a.name === 'filter'));
  const rnd = new Random(SEED);
  for (const list of lists) {
    const type = list.args.find((a) => a.name === 'filter')!.type.name!;
    const input = await subgraph.execute<{ __type: { inputFields: Array<{ name: string; type: { name: string | null } }> } }>('query($t: String!) { __type(name: $t) { inputFields { name type { name } } } }', { t: type });
    const spec = listSpec(list.name, type, type.replace(/Filter$/, '') as EntityName, input.data!.__type.inputFields);
    specs.push(spec);
    seedHostileRows(rnd, spec.table);
  }
});
afterAll(() => subgraph?.close());

interface Tally {
  selected: number;
  refused: number;
  filters: number;
}

/** Whether `message` names `name` as a field (a path segment or a quoted name), not just as part of a word. */
function names(message: string, name: string): boolean {
  return new RegExp(`(^|[."\\s])${name.replace(/[.[\]]/g, '\\$&')}([."\\s:[,]|$)`).test(message);
}

/** Runs one case and checks it; returns whether it selected rows or was refused. */
async function runCase(spec: ListSpec, filter: Record<string, unknown>, inline: boolean, label: string, tally: Tally): Promise<void> {
  const rows = rowsOf(subgraph, spec.table);
  const want = evaluate(spec, filter);
  const selection = `totalCount edges { node { id } }`;
  const text = inline ? literal(filter) : undefined;
  subgraph.emulator.resetCounters();
  const result: Result<{ list: { totalCount: number; edges: Array<{ node: { id: string } }> } }> =
    text !== undefined
      ? await subgraph.execute(`{ list: ${spec.list}(filter: ${text}, first: ${PAGE}) { ${selection} } }`)
      : await subgraph.execute(`query($filter: ${spec.type}) { list: ${spec.list}(filter: $filter, first: ${PAGE}) { ${selection} } }`, { filter });
  const context = `${label} ${text ?? JSON.stringify(filter)}`;
  tally.filters += checkFilters(subgraph.emulator.requestLog, spec.table);

  // Too long for one request URL: refused naming the limit, or served when the URL still fits.
  const tooLong = result.errors?.length === 1 && /too long/.test(result.errors[0].message);
  if (want.bad.length > 0 || tooLong) {
    expect(result.errors, context).toBeDefined();
    for (const error of result.errors!) {
      expect(error.extensions?.code, `${context}: ${error.message}`).toBe('BAD_USER_INPUT');
      if (tooLong) {
        expect(want.paramBytes, `${context}: refused as too long: ${error.message}`).toBeGreaterThan(4000);
        expect(want.valueFields.some((name) => names(error.message, name)), `${context}: "${error.message}" names none of ${want.valueFields.join(', ')}`).toBe(true);
      } else expect(want.bad.some((name) => names(error.message, name)), `${context}: "${error.message}" names none of ${want.bad.join(', ')}`).toBe(true);
    }
    expect(subgraph.emulator.counters.byTable[spec.table] ?? 0, `${context}: refused after an upstream request`).toBe(0);
    tally.refused++;
    return;
  }
  expect(result.errors, context).toBeUndefined();
  const expected = rows.filter(want.predicate).map((r) => r.__KEY).sort();
  const got = result.data!.list.edges.map((e) => e.node.id).sort();
  expect(got, context).toEqual(expected);
  expect(result.data!.list.totalCount, context).toBe(expected.length);
  tally.selected++;
}

const LISTS = ['products', 'productFamilies', 'customers', 'salesRecords', 'molds', 'productionOrders'];

describe(`GraphQL list filters, fuzzed (seed ${SEED})`, () => {
  it('covers every list query that takes a filter', () => {
    expect(specs.map((s) => s.list).sort()).toEqual([...LISTS].sort());
  });

  it.each(LISTS)(`%s: ${CASES_PER_LIST} hostile filters select exactly the right rows or are BAD_USER_INPUT naming the field, with placeholders only`, async (list) => {
    const spec = specs.find((s) => s.list === list)!;
    const rnd = new Random(SEED + list.length * 7919 + list.charCodeAt(0));
    const rows = rowsOf(subgraph, spec.table);
    const tally: Tally = { selected: 0, refused: 0, filters: 0 };
    for (let i = 0; i < CASES_PER_LIST; i++) {
      await runCase(spec, randomFilter(rnd, spec, rows), rnd.chance(0.15), `${list} #${i} (seed ${SEED})`, tally);
    }
    // The generator must exercise both outcomes, and nearly every selecting case sends a filter upstream.
    expect(tally.selected).toBeGreaterThan(CASES_PER_LIST / 4);
    expect(tally.refused).toBeGreaterThan(CASES_PER_LIST / 20);
    expect(tally.filters).toBeGreaterThanOrEqual(tally.selected * 0.9);
  }, 60_000);
});
