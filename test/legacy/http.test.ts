import { describe, expect, it } from 'vitest';
import { buildQuery, encodeQueryValue, paramsJson } from '../../src/legacy/index.js';
import { parseBaseUrl } from '../../src/legacy/http.js';

describe('query encoding', () => {
  it('percent-encodes every 4D-significant character, spaces as %20 (never +)', () => {
    expect(encodeQueryValue(`a b+c#d&e%f'g"h!i(j)k*l=m:n@o|p`)).toBe(
      'a%20b%2Bc%23d%26e%25f%27g%22h%21i%28j%29k%2Al%3Dm%3An%40o%7Cp',
    );
    expect(encodeQueryValue('Müller 😀')).toBe('M%C3%BCller%20%F0%9F%98%80');
  });

  it('builds the query string by hand and skips absent values', () => {
    expect(buildQuery([['$filter', '"A === :1"'], ['$params', undefined], ['$top', 100]])).toBe('?$filter=%22A%20%3D%3D%3D%20%3A1%22&$top=100');
    expect(buildQuery([])).toBe('');
  });

  it('writes $params as a JSON array with single quotes escaped', () => {
    expect(paramsJson(["O'Reilly", 'say "hi"', 5, ['a', 'b']])).toBe('["O\\u0027Reilly","say \\"hi\\"",5,["a","b"]]');
    expect(JSON.parse(paramsJson(["O'Reilly"]))).toEqual(["O'Reilly"]);
  });
});

describe('parseBaseUrl', () => {
  it('tolerates a trailing /rest and a path prefix, and takes credentials out of the URL', () => {
    expect(parseBaseUrl('http://erp:8080')).toMatchObject({ origin: 'http://erp:8080', restRoot: '/rest/' });
    expect(parseBaseUrl('http://erp:8080/rest/')).toMatchObject({ origin: 'http://erp:8080', restRoot: '/rest/' });
    expect(parseBaseUrl('https://proxy/4d/rest')).toMatchObject({ origin: 'https://proxy', restRoot: '/4d/rest/' });
    expect(parseBaseUrl('http://u%40x:p%3Aw@erp')).toMatchObject({ origin: 'http://erp', username: 'u@x', password: 'p:w' });
  });

  it('rejects a bad URL without echoing credentials', () => {
    expect(() => parseBaseUrl('ftp://erp')).toThrow(/protocol/);
    try {
      parseBaseUrl('http://user:secret@');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
    }
  });
});
