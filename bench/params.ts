/** Command-line parameters shared by the benchmark scripts: a flag, else a `BENCH_*` variable, else the default. */

import { parseArgs } from 'node:util';

/** A bad parameter: the script prints the message and its usage, and exits 2. */
export class UsageError extends Error {}

/**
 * The number given by `--name` (`flag`), else by the environment variable `envName`, else
 * `fallback`; outside `check` it is a {@link UsageError} naming where the value came from.
 */
export function numberParam(
  name: string,
  flag: string | undefined,
  envName: string,
  fallback: number,
  check: { integer?: boolean; min: number; max: number },
): number {
  const raw = flag ?? process.env[envName];
  const source = flag !== undefined ? `--${name}` : envName;
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || (check.integer && !Number.isInteger(value)) || value < check.min || value > check.max) {
    const kind = check.integer ? 'an integer' : 'a number';
    throw new UsageError(`${source} must be ${kind} between ${check.min} and ${check.max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Parses `--flag value` options named in `flags` (and `--help`/`-h`, which prints `usage` and
 * resolves `undefined`); returns a reader of each flag's text.
 */
export function readFlags(argv: string[], flags: readonly string[], usage: string): ((flag: string) => string | undefined) | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return undefined;
  }
  return (flag) => values[flag] as string | undefined;
}

/** Runs a benchmark's `main` as the process: its resolved value is the exit code; a failure prints `name: message` and exits 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
