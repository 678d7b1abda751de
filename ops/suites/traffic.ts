/**
 * Traffic for the fault suite: concurrent readers (product detail and a filtered list) and
 * writers, each a sequential stream of `updateProduct` renames of its own products with known
 * values. Every request is recorded (start, end, outcome, error code). After each write the writer
 * compares the emulator's store with what it was told: a write acknowledged but not in the store
 * is lost, a write that moved the record's stamp by more than one is doubled.
 */
import type { Stack } from './stack.js';

export interface Sample {
  readonly kind: 'read' | 'write';
  readonly start: number;
  readonly end: number;
  /** `ok`, or the GraphQL error code (`HTTP_<status>`; `NETWORK <code>` or `TIMEOUT` when no answer came). */
  readonly outcome: string;
}

export interface WriteCheck {
  acknowledged: number;
  /** Writes that failed although the store shows them saved (outcome unknown to the caller, not lost). */
  savedDespiteError: number;
  lost: number;
  doubled: number;
}

const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name stamp retailPrice { amount } } }';
const LIST = 'query ($p: String!) { products(filter: { sku: { beginsWith: $p } }, first: 5) { totalCount edges { node { id name } } } }';
const UPDATE = 'mutation ($id: ID!, $stamp: Int!, $name: String!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: $name }) { product { name stamp } } }';

/** One GraphQL request; resolves to the outcome and the data. Never rejects. */
export async function post(url: string, query: string, variables: Record<string, unknown>, timeoutMs = 30_000): Promise<{ outcome: string; data?: Record<string, unknown> }> {
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => undefined)) as { data?: Record<string, unknown>; errors?: Array<{ extensions?: { code?: string } }> } | undefined;
    if (body?.errors?.length) return { outcome: String(body.errors[0].extensions?.code ?? 'UNKNOWN'), data: body.data };
    if (!res.ok || !body?.data) return { outcome: `HTTP_${res.status}` };
    return { outcome: 'ok', data: body.data };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { outcome: (err as Error).name === 'TimeoutError' ? 'TIMEOUT' : `NETWORK${cause?.code ? ` ${cause.code}` : ''}` };
  }
}

export interface Traffic {
  readonly samples: Sample[];
  readonly writes: WriteCheck;
  /** Stops the loops and waits for the requests in flight. */
  stop(): Promise<void>;
}

/**
 * Starts `readers` closed-loop readers over `readIds` and one writer per entry of `writeIds`
 * (disjoint from the read ids: nobody else writes a writer's product). `tag` goes into the names.
 */
export function startTraffic(stack: Stack, options: { readers: number; readIds: readonly string[]; writeIds: readonly string[]; tag: string }): Traffic {
  const samples: Sample[] = [];
  const writes: WriteCheck = { acknowledged: 0, savedDespiteError: 0, lost: 0, doubled: 0 };
  const variants = stack.emulator.db.table('Artikel_Variante')!;
  let running = true;
  let n = 0;

  const reader = async () => {
    while (running) {
      const start = performance.now();
      const list = n++ % 4 === 0;
      const { outcome } = list ? await post(stack.url, LIST, { p: String(n % 10) }) : await post(stack.url, PRODUCT, { id: options.readIds[n % options.readIds.length] });
      samples.push({ kind: 'read', start, end: performance.now(), outcome });
    }
  };

  const writer = async (id: string) => {
    let stamp = variants.get(id)!.__STAMP as number;
    for (let i = 0; running; i++) {
      const name = `${options.tag} ${id.slice(0, 6)} #${i}`;
      const start = performance.now();
      const { outcome, data } = await post(stack.url, UPDATE, { id, stamp, name });
      samples.push({ kind: 'write', start, end: performance.now(), outcome });
      const row = variants.get(id)!;
      const moved = (row.__STAMP as number) - stamp;
      if (moved > 1) writes.doubled++;
      if (outcome === 'ok') {
        writes.acknowledged++;
        const saved = (data?.updateProduct as { product: { name: string; stamp: number } }).product;
        if (row.Bezeichnung !== name || saved.stamp !== row.__STAMP || saved.name !== name) writes.lost++;
      } else if (moved >= 1 && row.Bezeichnung === name) {
        writes.savedDespiteError++;
      }
      stamp = row.__STAMP as number;
      // A failing ERP is not hammered by the writers: a short pause after an error.
      if (outcome !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
  };

  const loops = [...Array.from({ length: options.readers }, reader), ...options.writeIds.map(writer)];
  return {
    samples,
    writes,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The `p`-quantile (0…1) of `values` (nearest rank); 0 for none. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Prints rows as an aligned text table (and returns it). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
