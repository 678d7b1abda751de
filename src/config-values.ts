/**
 * The building blocks of `config.ts`: the error a bad setting stops start-up with, and readers of
 * one setting from an environment map (never `process.env` itself: `config.ts` passes it in).
 */

/** Thrown for an invalid setting; the message names the setting and the offending value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

export function intSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function numberSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= min || value > max) {
    throw new ConfigError(`${name} must be a number greater than ${min} and at most ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
