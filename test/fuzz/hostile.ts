/**
 * Hostile input for the filter fuzz tests: a seeded generator (the emulator's mulberry32 `Random`,
 * so a failing case is reproduced by its seed and index) of strings made to break a filter that
 * inlines user text: 4D filter syntax, URL syntax, quotes, escapes, placeholders, control
 * characters, odd Unicode, numbers and dates in text, and very long values.
 */
import { Random } from '../../src/emulator/data/random.js';

export { Random };

/** Pieces that mean something to 4D's `$filter`, to a URL, to JSON or to a shell. */
const SYNTAX = [
  "'", '"', '&', '|', '=', '==', '===', '!==', '#', '%', '*', '!', '(', ')', '()', ':1', ':2', ':128', ':0', '$', '$filter', '$params',
  '&$top=1', '?$filter=', '/', '//', '\\', '\\"', "\\'", '\\u0000', '+', '%27', '%00', '%2F', '%', '<', '>', '<=', '>=', '^=', '*=',
  ',', ';', '[', ']', '{', '}', '[]', '{"a":1}', '`', '~', '^', '@', '@@',
];
const WORDS = ['AND', 'OR', 'NOT', 'null', 'NULL', 'true', 'false', 'IN', 'begin', 'order by', '__KEY', 'Nummer', 'Text', 'Bezeichnung', 'Kunden'];
const INJECTIONS = [
  "' OR 1=1 OR '", '" OR Text # "', ') OR (__KEY # null', 'x" OR "1"="1', 'Text = null', ':1 OR :2', 'NOT(Aktiv = null)', "'; DROP TABLE Kunden; --",
  '&$filter=__KEY%20%23%20null', '$params=["x"]', '%27%20OR%201%3D1', 'a\u0000b', '\u0000', '${process.env.HOME}', '../../etc/passwd', 'C:\\Windows\\',
];
const UNICODE = [
  'ü', 'Ü', 'ß', 'ẞ', 'é', 'e\u0301', 'Å', 'ø', 'İ', 'ı', 'ﬁ', 'Ⅻ', '😀', '👩‍👩‍👧', '日本語', 'Ελληνικά', 'עברית', 'العربية', '\u200b', '\u200f',
  '\u202e', '\ufeff', '\u00a0', '\u2028', '\u3000', '\u0301', 'Ω', 'µ', '½', '₂', 'ǅ',
  // Lone surrogates: a JavaScript string, but not well-formed Unicode (no UTF-8 for the URL).
  '\ud800', '\udfff', 'a\udc00b',
];
const SPACE = [' ', '  ', '\t', '\n', '\r\n', '\v', '\f'];
const NUMBERS = ['0', '-0', '42', '-1', '1.5', '1,5', '1e3', '0x10', '00042', '1_000', 'NaN', 'Infinity', '9007199254740993', '.5', '+7', '218093'];
const DATES = ['2024-01-01', '2021-02-30', '1!1!2020', '24.12.2023', '0!0!0', '2020-06-30T10:00:00Z', '00-00-00', '2016-01-01 ', '9999-12-31'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** One hostile piece. */
export function hostilePiece(rnd: Random): string {
  switch (rnd.int(0, 8)) {
    case 0:
    case 1:
      return rnd.pick(SYNTAX);
    case 2:
      return rnd.pick(WORDS);
    case 3:
      return rnd.pick(INJECTIONS);
    case 4:
      return rnd.pick(UNICODE);
    case 5:
      return rnd.pick(SPACE);
    case 6:
      return rnd.pick(NUMBERS);
    case 7:
      return rnd.pick(DATES);
    default: {
      let word = '';
      for (let i = rnd.int(1, 6); i > 0; i--) word += LETTERS[rnd.int(0, LETTERS.length - 1)];
      return word;
    }
  }
}

/**
 * A hostile string: a few pieces, sometimes a single code unit of any kind (control characters
 * included), sometimes very long (hundreds to a few thousand characters).
 */
export function hostileString(rnd: Random): string {
  const roll = rnd.next();
  if (roll < 0.05) return '';
  if (roll < 0.1) return String.fromCharCode(rnd.int(0, 0x7f));
  if (roll < 0.14) {
    const piece = hostilePiece(rnd) || 'x';
    return piece.repeat(Math.ceil(rnd.int(200, 3000) / piece.length));
  }
  let out = '';
  for (let i = rnd.int(1, 4); i > 0; i--) out += hostilePiece(rnd);
  return out;
}

/**
 * A text meant to select rows: part of `existing` (a stored value), with its case changed, or
 * with accents folded the way 4D compares text, or a hostile string otherwise.
 */
export function textLike(rnd: Random, existing: readonly string[]): string {
  const base = existing.length > 0 && rnd.chance(0.6) ? rnd.pick(existing) : hostileString(rnd);
  switch (rnd.int(0, 4)) {
    case 0:
      return base.toUpperCase();
    case 1: {
      const from = rnd.int(0, Math.max(0, base.length - 1));
      return base.slice(from, from + rnd.int(1, 6));
    }
    case 2:
      return base.slice(0, rnd.int(0, base.length));
    default:
      return base;
  }
}

/** A JSON-ish value of the wrong kind for any field: what a careless or hostile client sends. */
export function wrongValue(rnd: Random): unknown {
  return rnd.pick<unknown>([hostileString(rnd), 42, -1.5, 1e21, true, false, [], ['x'], {}, { eq: 'x' }, Infinity, -0, 2 ** 53 + 2]);
}
