import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { refusal } from '../helpers/config.js';

describe('metrics settings', () => {
  it('default to 100 operation names and no licence pool', () => {
    expect(loadConfig({}).metrics).toEqual({ maxOperationNames: 100, licencePoolSize: 0 });
    expect(loadConfig({ METRICS_MAX_OPERATION_NAMES: '0', LEGACY_LICENCE_POOL_SIZE: '25' }).metrics).toEqual({ maxOperationNames: 0, licencePoolSize: 25 });
  });

  it('stop start-up naming the setting and the value', () => {
    expect(refusal({ METRICS_MAX_OPERATION_NAMES: 'lots' })).toMatch(/METRICS_MAX_OPERATION_NAMES .*"lots"/);
    expect(refusal({ METRICS_MAX_OPERATION_NAMES: '20000' })).toMatch(/METRICS_MAX_OPERATION_NAMES must be an integer from 0 to 10000/);
    expect(refusal({ LEGACY_LICENCE_POOL_SIZE: '-1' })).toMatch(/LEGACY_LICENCE_POOL_SIZE .*"-1"/);
  });
});
