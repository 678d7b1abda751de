/** The session cookie jar: Set-Cookie parsing (4D's real header shapes), merging, new-session detection. */
import { describe, expect, it } from 'vitest';
import { cookieHeader, mergeCookies, newSessionCookies, parseSetCookies } from '../../src/legacy/cookies.js';

describe('session cookie jar', () => {
  it("reads 4D's Set-Cookie headers as sent, keeping values verbatim", () => {
    const jar = parseSetCookies([
      'WASID4D=962084CB4641435BA21FDB62E03AC2A1; Path=/; Max-Age=3600; HttpOnly; Version=1',
      '4DSID_WSZ-DB="A1%2FB"; Path=/',
    ]);
    expect([...jar]).toEqual([
      ['WASID4D', '962084CB4641435BA21FDB62E03AC2A1'],
      ['4DSID_WSZ-DB', 'A1%2FB'],
    ]);
  });

  it('marks cookies the server deleted (empty, Max-Age=0, Expires in the past) as null', () => {
    const now = Date.parse('2024-06-01T00:00:00Z');
    const jar = parseSetCookies(['A=; Path=/', 'B=x; Max-Age=0', 'C=y; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'D=z; Expires=Wed, 01 Jan 2031 00:00:00 GMT'], now);
    expect(Object.fromEntries(jar)).toEqual({ A: null, B: null, C: null, D: 'z' });
  });

  it('merges one value per name and says whether anything changed', () => {
    const base = { WASID4D: 'OLD', '4DSID_WSZ-DB': 'S' };
    expect(mergeCookies(base, parseSetCookies(['WASID4D=NEW']))).toEqual({ cookies: { WASID4D: 'NEW', '4DSID_WSZ-DB': 'S' }, changed: true });
    expect(mergeCookies(base, parseSetCookies(['WASID4D=OLD'])).changed).toBe(false);
    expect(mergeCookies(base, parseSetCookies(['WASID4D=; Max-Age=0'])).cookies).toEqual({ '4DSID_WSZ-DB': 'S' });
    expect(cookieHeader({ WASID4D: 'A', '4DSID_WSZ-DB': 'B' })).toBe('WASID4D=A; 4DSID_WSZ-DB=B');
  });

  it('recognises a session 4D opened for a request (a guest) by cookies that differ from those sent', () => {
    const sent = { WASID4D: 'DEAD', '4DSID_WSZ-DB': 'DEAD2' };
    expect(newSessionCookies(sent, parseSetCookies(['WASID4D=G1', '4DSID_WSZ-DB=G2']))).toEqual({ WASID4D: 'G1', '4DSID_WSZ-DB': 'G2' });
    expect(newSessionCookies(sent, parseSetCookies(['WASID4D=DEAD']))).toBeUndefined();
    expect(newSessionCookies(sent, new Map())).toBeUndefined();
  });
});
