/**
 * The metrics settings (`METRICS_*`, `LEGACY_LICENCE_POOL_SIZE`), read from the environment map
 * `config.ts` passes in.
 */
import { intSetting, type Env } from './config-values.js';

/** Metrics settings. */
export interface MetricsConfig {
  /**
   * Distinct GraphQL operation names kept as label values (`operation_name`); later names count as
   * `other`. `METRICS_MAX_OPERATION_NAMES`, default 100 (0 to 10000; 0 counts every name as `other`).
   */
  readonly maxOperationNames: number;
  /**
   * The 4D server's licence pool (its REST session limit), exported as `legacy_licence_pool_size`
   * so the "licences near the pool size" alert can compare; `LEGACY_LICENCE_POOL_SIZE`, default
   * none (0: not exported, the alert stays silent).
   */
  readonly licencePoolSize: number;
}

export function metricsConfig(env: Env): MetricsConfig {
  return {
    maxOperationNames: intSetting(env, 'METRICS_MAX_OPERATION_NAMES', 100, 0, 10_000),
    licencePoolSize: intSetting(env, 'LEGACY_LICENCE_POOL_SIZE', 0, 0, 100_000),
  };
}
