/** The `$filter` check of the fuzz tests accepts what the client may send and refuses any inlined value. */
import { describe, expect, it } from 'vitest';
import { checkFilters, placeholdersOf } from './wire.js';

describe('the placeholder check', () => {
  it('accepts comparisons with placeholders, IN, null tests and nesting, returning the placeholders in order', () => {
    expect(placeholdersOf('Belege', '(Text === :1 OR NOT(Text = null)) AND Währung IN :2 AND NOT((Endbetrag >= :3 AND bezahlt !== :4))')).toEqual([1, 2, 3, 4]);
    expect(placeholdersOf('Artikel_Variante', '__KEY = :1')).toEqual([1]);
  });

  it.each([
    ['Text === "x"'],
    ["Text === 'x'"],
    ['Text = x'],
    ['Text === 12'],
    ['Text === :1 OR 1=1'],
    ['Text = null OR :1'],
    ['Unbekannt === :1'],
    ['Text === :1)'],
    ['Text !== null'],
    ['Text === :1 :2'],
  ])('refuses %j', (filter) => {
    expect(() => placeholdersOf('Belege', filter)).toThrow();
  });

  it('checks the numbering and the $params of logged requests', () => {
    const entry = (filter: string, params: string) => ({ method: 'GET', table: 'Belege', status: 200, path: `/rest/Belege?$filter=${encodeURIComponent(`"${filter}"`)}&$params=${encodeURIComponent(`'${params}'`)}` });
    expect(checkFilters([entry('Text === :1 AND AbsNr > :2', '["a&b",3]')], 'Belege')).toBe(1);
    expect(() => checkFilters([entry('Text === :2', '["x"]')], 'Belege')).toThrow(/:2 where :1/);
    expect(() => checkFilters([entry('Text === :1', '["x","y"]')], 'Belege')).toThrow(/placeholders/);
    expect(() => checkFilters([entry('Text === :1', '["x"]')], 'Kunden')).toThrow(/went to Belege/);
  });
});
