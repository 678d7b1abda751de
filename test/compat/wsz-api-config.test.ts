/**
 * The compatibility module built from the configuration (not an injected client): it never falls
 * back to an emulator, opts in with `configureWszApi({ emulator: true })`, and keeps its session in
 * the local file store so scripts run one after another share one licence.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeWszApi, configureWszApi, fetchDataFromApi, getSessionCookie, pushData } from '../../src/compat/wsz-api.js';
import { ConfigError } from '../../src/config.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLegacyClient } from '../../src/legacy/index.js';

let emulator: Emulator;
let dir: string;
let sessionFile: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, sessions: 2 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsz-api-'));
  sessionFile = join(dir, 'sessions.json');
  emulator.expireAllSessions();
  emulator.resetCounters();
});
afterEach(async () => {
  await closeWszApi();
  configureWszApi(undefined);
  rmSync(dir, { recursive: true, force: true });
});

const upstream = () => ({ LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', WSZ_SESSION_FILE: sessionFile });

describe('WSZ_api without a configured 4D server', () => {
  it('fails every call with a ConfigError naming LEGACY_API_URL, WSZ_CONFIG_FILE and the opt-in', async () => {
    configureWszApi({ env: { WSZ_SESSION_FILE: sessionFile } });
    for (const call of [() => fetchDataFromApi('Formen', 1), () => getSessionCookie(), () => pushData('Kunden', 'Versandart', 'X', 'DHL')]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        'no 4D server configured: set LEGACY_API_URL (with LEGACY_API_USERNAME and LEGACY_API_PASSWORD) or WSZ_CONFIG_FILE (a JSON file with environments), or call configureWszApi({ emulator: true }) to use a built-in emulator with generated data',
      );
    }
    expect(existsSync(sessionFile)).toBe(false);
  });

  it('tries again after the configuration is fixed', async () => {
    configureWszApi({ env: { WSZ_SESSION_FILE: sessionFile } });
    await expect(fetchDataFromApi('Formen', 1)).rejects.toBeInstanceOf(ConfigError);
    configureWszApi({ env: upstream() });
    await expect(fetchDataFromApi('Formen', 1)).resolves.toHaveLength(1);
  });

  it('uses a built-in emulator when asked to with { emulator: true }', async () => {
    configureWszApi({ emulator: true, env: { WSZ_SESSION_FILE: sessionFile } });
    const rows = await fetchDataFromApi('Formen', 3);
    expect(rows).toHaveLength(3);
    expect(await getSessionCookie()).toMatch(/WASID4D=/);
    // Its session dies with its in-process emulator: nothing is kept in the file.
    expect(existsSync(sessionFile)).toBe(false);
    expect(emulator.counters.requests).toBe(0);
  });

  it('rejects a configuration that is neither a client nor options, naming what it takes', () => {
    expect(() => configureWszApi('live' as never)).toThrow(/configureWszApi takes a LegacyClient, an options object \{ emulator\?, env\?, logger\? \} or undefined, got "live"/);
  });

  it('still takes a client (the caller keeps it)', async () => {
    const client = createLegacyClient({ environments: { live: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } }, defaultEnvironment: 'live' });
    try {
      configureWszApi(client);
      await expect(fetchDataFromApi('Formen', 2)).resolves.toHaveLength(2);
    } finally {
      configureWszApi(undefined);
      await client.close();
    }
  });
});

describe('WSZ_api scripts run one after another', () => {
  it('share one session through the file store: five "scripts" cost one login and one licence', async () => {
    for (let script = 0; script < 5; script++) {
      configureWszApi({ env: upstream() });
      expect(await fetchDataFromApi('Formen', 1)).toHaveLength(1);
      await closeWszApi();
    }
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
  });
});
