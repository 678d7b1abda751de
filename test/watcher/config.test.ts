/**
 * The change-watcher settings in `loadConfig`: defaults, and an unknown strategy or a poll interval
 * out of range stopping start-up with a message naming the setting.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { refusal } from '../helpers/config.js';

describe('change watcher configuration', () => {
  it('defaults: auto, every 2 s, a whole table past 1000 changed keys, a lease of 3 polls (at least 5 s)', () => {
    expect(loadConfig({}).changes).toEqual({ strategy: 'auto', pollMs: 2000, maxKeysPerTable: 1000, leaseMs: 6000 });
    expect(loadConfig({ CHANGE_STRATEGY: 'timestamp', CHANGE_POLL_MS: '500', CHANGE_MAX_KEYS: '50' }).changes).toEqual({
      strategy: 'timestamp',
      pollMs: 500,
      maxKeysPerTable: 50,
      leaseMs: 5000,
    });
    expect(loadConfig({ CHANGE_POLL_MS: '250', CHANGE_LEASE_MS: '500' }).changes.leaseMs).toBe(500);
  });

  it.each(['499', '3600001', 'long'])('CHANGE_LEASE_MS=%s (polling every 250 ms) is refused: a live leader would lose it between two renewals', (value) => {
    const message = refusal({ CHANGE_POLL_MS: '250', CHANGE_LEASE_MS: value });
    expect(message).toContain('CHANGE_LEASE_MS');
    expect(message).toContain('from 500 to 3600000');
  });

  it('EMULATOR_CHANGE_TRACKING turns the embedded emulator’s change tracking off, and refuses what is not a boolean', () => {
    expect(loadConfig({}).emulator?.changeTracking).toBe(true);
    expect(loadConfig({ EMULATOR_CHANGE_TRACKING: 'false' }).emulator?.changeTracking).toBe(false);
    expect(refusal({ EMULATOR_CHANGE_TRACKING: 'sometimes' })).toContain('EMULATOR_CHANGE_TRACKING');
  });

  it('an unknown strategy names the setting and the strategies', () => {
    const message = refusal({ CHANGE_STRATEGY: 'globalstamp' });
    expect(message).toContain('CHANGE_STRATEGY');
    expect(message).toContain('auto, globalStamp, timestamp, off');
  });

  it.each(['0', '199', '600001', 'fast', '1.5'])('CHANGE_POLL_MS=%s is refused, naming the setting', (value) => {
    expect(refusal({ CHANGE_POLL_MS: value })).toContain('CHANGE_POLL_MS');
  });

  it('CHANGE_MAX_KEYS must be a positive integer', () => {
    expect(refusal({ CHANGE_MAX_KEYS: '0' })).toContain('CHANGE_MAX_KEYS');
  });
});
