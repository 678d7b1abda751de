/** Text matching of the 4D query language on folded text (see `foldText`). */

/**
 * A matcher for a folded pattern where `@` stands for any sequence (including an empty one),
 * as 4D's `=`, `#` and `IN` treat it. Without `@` it is plain equality.
 */
export function wildcardMatcher(foldedPattern: string): (folded: string) => boolean {
  const parts = foldedPattern.split('@');
  if (parts.length === 1) return (s) => s === foldedPattern;
  const first = parts[0];
  const last = parts[parts.length - 1];
  const middles = parts.slice(1, -1).filter((p) => p !== '');
  const minLength = first.length + last.length;
  return (s) => {
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    // Leftmost placement of each middle part is optimal for star-only patterns.
    let pos = first.length;
    const end = s.length - last.length;
    for (const m of middles) {
      const at = s.indexOf(m, pos);
      if (at < 0 || at + m.length > end) return false;
      pos = at + m.length;
    }
    return true;
  };
}

const TEXT_WORDS = /[^\p{L}\p{N}]+/u;
const KEYWORD_WORDS = /[^\p{L}\p{N}@]+/u;

/** Splits folded text into words the way a keyword index does: letters and digits, punctuation separates. */
export function words(folded: string): string[] {
  return folded.split(TEXT_WORDS).filter((w) => w !== '');
}

/**
 * The `%` (contains keyword) matcher: true when a whole word of the text equals the keyword
 * (`@` wildcard allowed inside it). A keyword that itself splits into several words
 * (`O'Reilly` → `o`, `reilly`) must match that many consecutive words. An empty keyword matches nothing.
 */
export function keywordMatcher(foldedKeyword: string): (folded: string) => boolean {
  const parts = foldedKeyword.split(KEYWORD_WORDS).filter((w) => w !== '').map(wildcardMatcher);
  if (parts.length === 0) return () => false;
  return (s) => {
    const ws = words(s);
    for (let i = 0; i + parts.length <= ws.length; i++) {
      if (parts.every((match, j) => match(ws[i + j]))) return true;
    }
    return false;
  };
}
