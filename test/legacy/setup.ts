/**
 * Factories for the legacy client tests: an emulator on port 0, a client pointed at it, a logger
 * that captures every line, and helpers computing expectations from the emulator's rows.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import {
  createLegacyClient,
  type LegacyClient,
  type LegacyClientOptions,
  type UpstreamRequestEvent,
} from '../../src/legacy/index.js';

export const USER = 'wsz';
export const PASSWORD = 'S3cr3t-Pa55word!';

/** A pino logger at `debug` writing into `lines` (one string per line). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export interface LegacyFixture {
  emulator: Emulator;
  client: LegacyClient;
  events: UpstreamRequestEvent[];
  logs: string[];
  /** A second client on the same emulator (and, unless given, its own store). */
  newClient(options?: Partial<LegacyClientOptions>): LegacyClient;
  close(): Promise<void>;
}

/** Starts an emulator (password {@link PASSWORD}) and a client with fast retries. */
export async function legacyFixture(
  emulatorOptions: EmulatorOptions = {},
  clientOptions: Partial<LegacyClientOptions> = {},
): Promise<LegacyFixture> {
  const emulator = await startEmulator({ port: 0, users: { [USER]: PASSWORD }, ...emulatorOptions });
  const events: UpstreamRequestEvent[] = [];
  const { logger, lines } = captureLogger();
  const clients: LegacyClient[] = [];
  const newClient = (options: Partial<LegacyClientOptions> = {}) => {
    const client = createLegacyClient({
      environments: { test: { baseUrl: emulator.url, username: USER, password: PASSWORD } },
      defaultEnvironment: 'test',
      retryBaseMs: 5,
      retryMaxMs: 20,
      logger,
      onUpstreamRequest: (e) => events.push(e),
      ...clientOptions,
      ...options,
    });
    clients.push(client);
    return client;
  };
  const client = newClient();
  return {
    emulator,
    client,
    events,
    logs: lines,
    newClient,
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await emulator.close();
    },
  };
}

/** 4D's text folding (case- and accent-insensitive), as the emulator applies it. */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss');
}

/** Rows of an emulator table (wire format). */
export function tableRows(emulator: Emulator, table: string): Array<Record<string, unknown> & { __KEY: string; __STAMP: number }> {
  const t = emulator.db.table(table);
  if (!t) throw new Error(`no table ${table}`);
  return t.rows();
}

/** Sorted keys, for set comparisons. */
export function keysOf(rows: ReadonlyArray<{ __KEY: unknown }>): string[] {
  return rows.map((r) => String(r.__KEY)).sort();
}

/** Counts the emulator requests made while `fn` runs. */
export async function countRequests<T>(emulator: Emulator, fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const before = emulator.counters.requests;
  const result = await fn();
  return { result, requests: emulator.counters.requests - before };
}
