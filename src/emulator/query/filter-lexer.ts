/**
 * The lexer of the emulator's `$filter` engine (`filter.ts`): tokens, the outer quotes 4D strips,
 * and the syntax errors 4D reports for them.
 */
import { QueryErrCode, QueryError } from './errors.js';


export type Token =
  | { t: '(' | ')' | '[' | ']' | ',' | 'eof'; pos: number }
  | { t: 'op' | 'word' | 'string'; v: string; pos: number }
  | { t: 'conj'; v: 'AND' | 'OR'; pos: number }
  | { t: 'param'; v: number; pos: number };

export const OP_CHARS = '=!<>#%';
export const WORD_END = new Set([...' \t\r\n()[],&|', ...OP_CHARS]);

export function syntaxError(source: string, detail: string, pos?: number): QueryError {
  const where = pos === undefined ? '' : ` at position ${pos + 1}`;
  return new QueryError(QueryErrCode.syntax, `Unable to analyse the query "${source}": ${detail}${where}`);
}

export function missingQuote(quote: string, source: string, pos: number): QueryError {
  const code = quote === "'" ? QueryErrCode.missingQuote : QueryErrCode.missingDoubleQuote;
  const name = quote === "'" ? 'quote' : 'double quote';
  return new QueryError(code, `Missing closing ${name} (${quote}) for the value starting at position ${pos + 1} in the query "${source}"`);
}

/** Strips matching outer quote pairs; a valid expression never starts with a quote, so this is safe to repeat. */
export function stripOuterQuotes(filter: string): string {
  let text = filter.trim();
  while (text.startsWith('"') || text.startsWith("'")) {
    const quote = text[0];
    if (text.length < 2 || !text.endsWith(quote)) throw missingQuote(quote, filter, 0);
    text = text.slice(1, -1).trim();
  }
  return text;
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',') {
      tokens.push({ t: c, pos: i++ });
    } else if (c === "'" || c === '"') {
      const start = i++;
      let value = '';
      for (;;) {
        if (i >= source.length) throw missingQuote(c, source, start);
        const ch = source[i];
        if (ch === '\\' && (source[i + 1] === c || source[i + 1] === '\\')) {
          value += source[i + 1];
          i += 2;
        } else if (ch === c) {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      tokens.push({ t: 'string', v: value, pos: start });
    } else if (c === '&' || c === '|') {
      const start = i;
      while (source[i] === '&' || source[i] === '|') i++;
      const run = source.slice(start, i);
      if (run !== c && run !== c + c) throw syntaxError(source, `unknown conjunction "${run}"`, start);
      tokens.push({ t: 'conj', v: c === '&' ? 'AND' : 'OR', pos: start });
    } else if (OP_CHARS.includes(c)) {
      const start = i;
      while (i < source.length && OP_CHARS.includes(source[i])) i++;
      tokens.push({ t: 'op', v: source.slice(start, i), pos: start });
    } else if (c === ':' && /\d/.test(source[i + 1] ?? '')) {
      const start = i++;
      while (/\d/.test(source[i] ?? '')) i++;
      if (i < source.length && !WORD_END.has(source[i])) throw syntaxError(source, `bad placeholder "${source.slice(start, i + 1)}"`, start);
      tokens.push({ t: 'param', v: Number(source.slice(start + 1, i)), pos: start });
    } else if (c === ':') {
      throw syntaxError(source, 'only indexed placeholders (:1, :2, …) are supported', i);
    } else {
      // A bare word: attribute path, keyword or unquoted value. Quotes inside are literal (O'Reilly).
      const start = i;
      while (i < source.length && !WORD_END.has(source[i])) i++;
      tokens.push({ t: 'word', v: source.slice(start, i), pos: start });
    }
  }
  tokens.push({ t: 'eof', pos: source.length });
  return tokens;
}
