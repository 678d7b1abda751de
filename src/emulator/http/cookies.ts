/** Cookie header parsing and `Set-Cookie` formatting. Cookie values are never logged. */

/** Parses a `Cookie` header into every value seen per name (a name may legitimately repeat). */
export function parseCookies(header: string | string[] | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const line of lines) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name === '') continue;
      const list = out.get(name) ?? [];
      list.push(value);
      out.set(name, list);
    }
  }
  return out;
}

/** `NAME=value; Path=/; Max-Age=N; HttpOnly`, the form a 4D server sends. */
export function formatSetCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.round(maxAgeSeconds))}; HttpOnly`;
}
