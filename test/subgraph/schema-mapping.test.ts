/**
 * The SDL and the entity mapping must agree: every filter input lists exactly the fields the
 * mapping declares filterable, every update input exactly the writable ones, every order enum the
 * mapping's order fields. A drift would give clients fields that fail at run time.
 */
import { Writable } from 'node:stream';
import { buildASTSchema, isEnumType, isInputObjectType, isObjectType, parse } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/mapping/entities.js';
import { loadTypeDefs } from '../../src/schema.js';
import { startTestSubgraph } from '../helpers/subgraph.js';

const FEDERATION = `
  scalar _FieldSet
  directive @key(fields: _FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
  directive @shareable on OBJECT | FIELD_DEFINITION
  directive @link(url: String!, import: [String]) repeatable on SCHEMA
`;
const typeDefs = loadTypeDefs();
const schema = buildASTSchema({ ...typeDefs, definitions: [...typeDefs.definitions, ...parse(FEDERATION).definitions] }, { assumeValidSDL: true });

describe('schema and mapping agree', () => {
  it.each(Object.values(ENTITIES).map((d) => [d.typename, d] as const))('%s: the filter input lists exactly the filterable fields', (typename, def) => {
    const filter = schema.getType(`${typename}Filter`);
    const filterable = Object.entries(def.fields).filter(([, f]) => f.filterable).map(([n]) => n);
    if (!filter) {
      expect(filterable, `${typename} has no ${typename}Filter, so nothing may be marked filterable`).toEqual([]);
      return;
    }
    expect(isInputObjectType(filter)).toBe(true);
    if (!isInputObjectType(filter)) return;
    const fields = Object.keys(filter.getFields()).filter((n) => !['and', 'or', 'not', 'id'].includes(n)).sort();
    expect(fields).toEqual(filterable.sort());
  });

  it.each(Object.values(ENTITIES).map((d) => [d.typename, d] as const))('%s: the update input lists exactly the writable fields', (typename, def) => {
    const input = schema.getType(`Update${typename}Input`);
    const writable = [...Object.entries(def.fields).filter(([, f]) => f.writable).map(([n]) => n), ...Object.keys(def.virtualInputs)];
    if (!input) {
      expect(writable, `${typename} has no Update${typename}Input, so nothing may be marked writable`).toEqual([]);
      return;
    }
    if (!isInputObjectType(input)) throw new Error('not an input type');
    expect(Object.keys(input.getFields()).sort()).toEqual(writable.sort());
  });

  it.each(Object.values(ENTITIES).map((d) => [d.typename, d] as const))('%s: the order enum lists exactly the order fields', (typename, def) => {
    const order = schema.getType(`${typename}OrderField`);
    if (!order) {
      expect(Object.keys(def.orderFields)).toEqual([]);
      return;
    }
    if (!isEnumType(order)) throw new Error('not an enum');
    expect(order.getValues().map((v) => v.name).sort()).toEqual(Object.keys(def.orderFields).sort());
  });

  it.each(Object.values(ENTITIES).map((d) => [d.typename, d] as const))('%s: every public model field and derived field is a GraphQL field', (typename, def) => {
    const type = schema.getType(typename);
    if (!isObjectType(type)) throw new Error(`${typename} is not an object type`);
    const graphqlFields = Object.keys(type.getFields());
    const modelFields = [...Object.keys(def.fields).filter((n) => !def.internal.includes(n)), ...Object.keys(def.derived), 'id', 'stamp', 'modifiedAt'];
    for (const field of modelFields) expect(graphqlFields, `${typename}.${field}`).toContain(field);
  });
});

describe('operations', () => {
  it('logs upstream failures for operators, without cookies or passwords, and not client mistakes', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const subgraph = await startTestSubgraph({ logger: pino({ level: 'info' }, sink) });
    try {
      await subgraph.client.ping();
      subgraph.emulator.failNext(4, 503);
      await subgraph.execute('query Broken { productBySku(sku: "x") { id } }');
      await subgraph.execute('{ products(first: 1000) { totalCount } }');
      const failures = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'GraphQL operation failed');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', operationName: 'Broken', path: ['productBySku'] });
      expect(lines.join('\n')).not.toMatch(/WASID4D=[0-9A-F]|4DSID_WSZ-DB=[0-9A-F]|password-4D|Basic [A-Za-z0-9+/=]{4,}/);
    } finally {
      await subgraph.close();
    }
  });

  it('turns introspection off in production but keeps _service for the router', async () => {
    const subgraph = await startTestSubgraph({ production: true });
    try {
      const introspection = await subgraph.execute('{ __schema { queryType { name } } }');
      expect(introspection.errors?.[0].message).toMatch(/introspection/i);
      const service = await subgraph.execute<{ _service: { sdl: string } }>('{ _service { sdl } }');
      expect(service.errors).toBeUndefined();
      expect(service.data!._service.sdl).toContain('type Product');
    } finally {
      await subgraph.close();
    }
  });
});
