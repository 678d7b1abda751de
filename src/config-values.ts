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

/** `true`/`false` (or the two `words`, and 1/0, on/off, yes/no), case-insensitive. */
export function booleanSetting(env: Env, name: string, fallback: boolean, words: [string, string] = ['true', 'false']): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = raw.toLowerCase();
  if ([words[0], 'true', '1', 'on', 'yes'].includes(value)) return true;
  if ([words[1], 'false', '0', 'off', 'no'].includes(value)) return false;
  throw new ConfigError(`${name} must be ${words[0]} or ${words[1]}, got ${JSON.stringify(raw)}`);
}
