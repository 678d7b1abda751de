import { describe, expect, it } from 'vitest';
import { compileFilter, f, LegacyValidationError, MAX_PLACEHOLDERS } from '../../src/legacy/index.js';

function validationError(fn: () => unknown): LegacyValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LegacyValidationError);
    return error as LegacyValidationError;
  }
  throw new Error('expected a LegacyValidationError');
}

describe('compileFilter', () => {
  it('puts every value into $params and only placeholders into the text', () => {
    const out = compileFilter(
      'Artikel_Variante',
      f.and(f.eq('Nummer', "218'093"), f.gte('Gewicht', 10.5), f.eq('Aktiv', true), f.lt('Release_date', '2024-01-31')),
    );
    expect(out.filter).toBe('(Nummer === :1 AND Gewicht >= :2 AND Aktiv === :3 AND Release_date < :4)');
    expect(out.params).toEqual(["218'093", 10.5, true, '2024-01-31']);
  });

  it('compiles every comparison operator to its 4D comparator', () => {
    const ops = { eq: '===', ne: '!==', lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
    for (const [op, symbol] of Object.entries(ops)) {
      expect(compileFilter('Kunden', f[op as keyof typeof ops]('Kreditlimit', 5)).filter).toBe(`Kreditlimit ${symbol} :1`);
    }
  });

  it('turns begins and contains into = with @ wildcards in the parameter', () => {
    expect(compileFilter('Kunden', f.begins('KundenNr', 'K-1'))).toEqual({ filter: 'KundenNr = :1', params: ['K-1@'] });
    expect(compileFilter('Kunden', f.contains('KundenNr', '00'))).toEqual({ filter: 'KundenNr = :1', params: ['@00@'] });
  });

  it('rejects begins/contains values containing @, which 4D cannot match exactly', () => {
    const error = validationError(() => compileFilter('Adressen', f.contains('Email', 'a@b.de')));
    expect(error.message).toContain('"@"');
    expect(error.message).toContain('eq/in');
  });

  it('compiles in() to IN with one array parameter, or to an OR of === when a value has an @', () => {
    expect(compileFilter('Kunden', f.in('KundenNr', ['a', 'b']))).toEqual({ filter: 'KundenNr IN :1', params: [['a', 'b']] });
    expect(compileFilter('Adressen', f.in('Email', ['x@y.de', 'plain']))).toEqual({
      filter: '(Email === :1 OR Email === :2)',
      params: ['x@y.de', 'plain'],
    });
  });

  it('writes null as a keyword, never as a placeholder', () => {
    expect(compileFilter('Belege', f.isNull('ZahlungsDat'))).toEqual({ filter: 'ZahlungsDat = null', params: [] });
    expect(compileFilter('Belege', f.notNull('ZahlungsDat'))).toEqual({ filter: 'NOT(ZahlungsDat = null)', params: [] });
  });

  it('parenthesizes every group and negation', () => {
    const out = compileFilter('Kunden', f.or(f.and(f.eq('Preisgru', 'A'), f.not(f.eq('Liefersperre', true))), f.eq('Kundengr', 'B')));
    expect(out.filter).toBe('((Preisgru === :1 AND NOT(Liefersperre === :2)) OR Kundengr === :3)');
  });

  it('numbers placeholders across nested groups in order', () => {
    const out = compileFilter('Kunden', f.and(f.in('KundenNr', ['a']), f.or(f.eq('AdrNr', '1'), f.eq('AdrNr', '2'))));
    expect(out.filter).toBe('(KundenNr IN :1 AND (AdrNr === :2 OR AdrNr === :3))');
    expect(out.params).toEqual([['a'], '1', '2']);
  });

  it('keeps values that look like 4D syntax inert', () => {
    const nasty = `x' OR 1=1 AND Name = "y" | null # & % + :1`;
    const out = compileFilter('Kunden', f.eq('KundenNr', nasty));
    expect(out.filter).toBe('KundenNr === :1');
    expect(out.params).toEqual([nasty]);
  });

  it('encodes Date values and ISO strings as YYYY-MM-DD placeholders', () => {
    expect(compileFilter('Belege', f.gte('Datum', new Date(Date.UTC(2024, 0, 5)))).params).toEqual(['2024-01-05']);
    expect(compileFilter('Belege', f.gte('Datum', '2024-01-05T10:00:00Z')).params).toEqual(['2024-01-05']);
  });

  it('rejects an unknown attribute, naming it and listing the table attributes', () => {
    const error = validationError(() => compileFilter('Kunden', f.eq('Kundennummer', 'x')));
    expect(error.message).toContain('"Kundennummer"');
    expect(error.message).toContain('KundenNr');
    expect(error.message).toContain('NettoTage');
    expect(error.table).toBe('Kunden');
  });

  it('rejects an unknown table, listing the known ones', () => {
    const error = validationError(() => compileFilter('Kunde', f.eq('KundenNr', 'x')));
    expect(error.message).toContain('"Kunde"');
    expect(error.message).toContain('Artikel_Variante');
  });

  it('checks value types against the attribute type', () => {
    expect(validationError(() => compileFilter('Kunden', f.eq('KundenNr', 5))).message).toContain('expected a string');
    expect(validationError(() => compileFilter('Kunden', f.eq('SkontoTage', 1.5))).message).toContain('integer');
    expect(validationError(() => compileFilter('Kunden', f.eq('Liefersperre', 'true'))).message).toContain('boolean');
    expect(validationError(() => compileFilter('Belege', f.eq('Datum', '24!12!2023x'))).message).toContain('ISO date');
    expect(validationError(() => compileFilter('Belege', f.eq('Datum', '2023-02-30'))).message).toContain('ISO date');
    expect(validationError(() => compileFilter('Kunden', f.eq('Kreditlimit', Number.NaN))).message).toContain('finite');
    expect(validationError(() => compileFilter('Kunden', f.eq('KundenNr', null as never))).message).toContain('isNull');
    expect(validationError(() => compileFilter('Kunden', f.lt('Liefersperre', true))).message).toContain('boolean');
    expect(validationError(() => compileFilter('Kunden', f.eq('KundenNr', '\ud800'))).message).toContain('Unicode');
  });

  it('rejects empty and(), or() and in()', () => {
    expect(validationError(() => compileFilter('Kunden', f.and())).message).toContain('at least one operand');
    expect(validationError(() => compileFilter('Kunden', f.or())).message).toContain('at least one operand');
    expect(validationError(() => compileFilter('Kunden', f.in('KundenNr', []))).message).toContain('non-empty');
  });

  it('refuses more placeholders than 4D allows', () => {
    const values = Array.from({ length: MAX_PLACEHOLDERS + 1 }, (_, i) => `v${i}@`);
    expect(validationError(() => compileFilter('Kunden', f.in('KundenNr', values))).message).toContain(String(MAX_PLACEHOLDERS));
  });

  it('accepts system attributes and paths into object attributes', () => {
    expect(compileFilter('Kunden', f.eq('__KEY', 'ABC')).filter).toBe('__KEY === :1');
    expect(compileFilter('Artikel_Variante', f.eq('Preise.Coll[].Art', 'Laden')).filter).toBe('Preise.Coll[].Art === :1');
    expect(validationError(() => compileFilter('Artikel_Variante', f.eq('Preise', 'x'))).message).toContain('object attribute');
  });

  it('passes a raw filter through only at the top level', () => {
    expect(compileFilter('Kunden', f.raw('KundenNr = :1', ['x']))).toEqual({ filter: 'KundenNr = :1', params: ['x'] });
    expect(validationError(() => compileFilter('Kunden', f.and(f.raw('x', []) as never))).message).toContain('raw');
  });
});
