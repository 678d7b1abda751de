import { describe, expect, it } from 'vitest';
import {
  LegacyAPIAuthenticationError,
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacyAPIError,
  LegacyNotFoundError,
  LegacyQueryError,
  LegacySessionLimitError,
  LegacyStampConflictError,
  LegacyValidationError,
  scrubSecrets,
} from '../../src/legacy/index.js';
import { errorFromResponse, readErrorStack } from '../../src/legacy/errors.js';

describe('error classes', () => {
  it('form the documented hierarchy with stable codes', () => {
    const limit = new LegacySessionLimitError('x', { retryAfterMs: 5, environment: 'test' });
    expect(limit).toBeInstanceOf(LegacyAPIAuthenticationError);
    expect(limit).toBeInstanceOf(LegacyAPIError);
    expect(limit.code).toBe('LEGACY_SESSION_LIMIT');
    expect(limit.name).toBe('LegacySessionLimitError');
    const conflict = new LegacyStampConflictError('x', { key: 'K', sentStamp: 1, currentStamp: 2, currentValues: { a: 1 }, environment: 'e' });
    expect(conflict).toBeInstanceOf(LegacyAPIDataError);
    expect(new LegacyNotFoundError('x')).toBeInstanceOf(LegacyAPIDataError);
    expect(new LegacyQueryError('x')).toBeInstanceOf(LegacyAPIDataError);
    expect(new LegacyValidationError('x')).toBeInstanceOf(LegacyAPIError);
    expect(new LegacyAPIConnectionError('x').code).toBe('LEGACY_CONNECTION');
  });

  it('keep the 4D error stack as messages and codes, first line only', () => {
    const error = new LegacyQueryError('bad', {
      status: 500,
      environment: 'test',
      table: 'Kunden',
      fourDErrors: [
        { message: 'The "Nme" attribute cannot be found\nError code: 1500 (dbmg)\ntask 94219', errCode: 1500 },
        { message: 'Cannot build a list of attributes', errCode: 1804 },
      ],
    });
    expect(error.errCode).toBe(1500);
    expect(error.errCodes).toEqual([1500, 1804]);
    expect(error.errors).toEqual(['The "Nme" attribute cannot be found', 'Cannot build a list of attributes']);
    expect(error.toJSON()).toMatchObject({ code: 'LEGACY_QUERY', status: 500, errCode: 1500, table: 'Kunden', environment: 'test' });
  });
});

describe('errorFromResponse', () => {
  const map = (status: number, codes: number[]) =>
    errorFromResponse('failed', { status, stack: codes.map((errCode) => ({ message: `e${errCode}`, errCode })), environment: 'test' });

  it('maps statuses and 4D errCodes to classes', () => {
    expect(map(404, [1800])).toBeInstanceOf(LegacyNotFoundError);
    expect(map(200, [1542])).toBeInstanceOf(LegacyNotFoundError);
    expect(map(500, [1500, 1804])).toBeInstanceOf(LegacyQueryError);
    expect(map(500, [1200])).toBeInstanceOf(LegacyQueryError);
    expect(map(500, [1279])).toBeInstanceOf(LegacyQueryError);
    expect(map(401, [1822])).toBeInstanceOf(LegacyAPIAuthenticationError);
    expect(map(500, [])).toBeInstanceOf(LegacyAPIConnectionError);
    expect(map(200, [1046])).toBeInstanceOf(LegacyAPIDataError);
    expect(map(500, [1500]).message).toBe('failed: e1500 (4D errCode 1500)');
  });

  it('reads __ERROR in its tolerated shapes', () => {
    expect(readErrorStack({ __ERROR: [{ message: 'm', errCode: 1 }] })).toEqual([{ message: 'm', errCode: 1, componentSignature: undefined }]);
    expect(readErrorStack({ __ERROR: 'plain' })).toEqual([{ message: 'plain' }]);
    expect(readErrorStack({ errors: [{ message: 'm', code: '1800' }] })?.[0]?.errCode).toBe(1800);
    expect(readErrorStack({ ok: true })).toBeUndefined();
  });
});

describe('scrubSecrets', () => {
  it('removes cookies, Authorization values, passwords and URL credentials', () => {
    const text = [
      'Cookie: WASID4D=ABCDEF0123; 4DSID_WSZ-DB=99887766',
      'set-cookie: WASID4D=ABCDEF0123; Path=/',
      'authorization: Basic d3N6OnNlY3JldA==',
      '{"password":"hunter2","password-4D":"hunter2"}',
      'http://wsz:hunter2@erp:8080/rest',
      'sent WASID4D=ABCDEF0123 twice',
    ].join('\n');
    const out = scrubSecrets(text);
    for (const secret of ['ABCDEF0123', '99887766', 'd3N6OnNlY3JldA==', 'hunter2']) expect(out).not.toContain(secret);
    expect(out).toContain('WASID4D=[redacted]');
  });

  it('is applied to every error message', () => {
    expect(new LegacyAPIError('failed with cookie WASID4D=SECRETVALUE').message).not.toContain('SECRETVALUE');
  });
});
