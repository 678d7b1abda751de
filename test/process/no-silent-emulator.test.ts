/**
 * Issue 6 §4: no silent emulator where a real ERP was meant. Development without configuration keeps
 * the built-in emulator; production refuses to start without `LEGACY_API_URL`; the emulator module
 * is loaded only when it is used, so a production process never imports `src/emulator/`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = join(root, 'src');
const emulatorDir = join(src, 'emulator');
const recordImports = fileURLToPath(new URL('./fixtures/record-imports.mjs', import.meta.url));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsz-no-emulator-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('keeps the built-in emulator in development when nothing is configured', () => {
    expect(loadConfig({}).emulator).toBeDefined();
    expect(loadConfig({ NODE_ENV: 'development' }).emulator).toBeDefined();
  });

  it('refuses production without LEGACY_API_URL, naming it', () => {
    const err = configError(() => loadConfig({ NODE_ENV: 'production' }));
    expect(err.message).toMatch(/^LEGACY_API_URL is required with NODE_ENV=production: /);
    expect(err.message).toContain('WSZ_CONFIG_FILE');
  });

  it('accepts production with LEGACY_API_URL or an environment in WSZ_CONFIG_FILE, without an emulator', () => {
    expect(loadConfig({ NODE_ENV: 'production', LEGACY_API_URL: 'http://erp:8080' }).emulator).toBeUndefined();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ environments: { live: { baseUrl: 'http://erp:8080', username: 'api', password: 'pw' } }, defaultEnvironment: 'live' }));
    const config = loadConfig({ NODE_ENV: 'production', WSZ_CONFIG_FILE: file });
    expect(config.emulator).toBeUndefined();
    expect(config.legacy.defaultEnvironment).toBe('live');
  });

  it("refuses a missing upstream for the command line and the compatibility module ('never'), naming both settings and the opt-in", () => {
    const err = configError(() => loadConfig({}, { emulator: 'never', emulatorOptIn: 'run with --emulator' }));
    expect(err.message).toBe(
      'no 4D server configured: set LEGACY_API_URL (with LEGACY_API_USERNAME and LEGACY_API_PASSWORD) or WSZ_CONFIG_FILE (a JSON file with environments), or run with --emulator',
    );
  });

  it("uses the emulator when asked for ('always'), in production too", () => {
    expect(loadConfig({ NODE_ENV: 'production' }, { emulator: 'always' }).emulator).toBeDefined();
    expect(loadConfig({ LEGACY_API_URL: 'http://erp:8080' }, { emulator: 'always' }).emulator).toBeDefined();
  });

  it('keeps the session file in the user cache directory unless WSZ_SESSION_FILE names one', () => {
    expect(loadConfig({ XDG_CACHE_HOME: '/var/cache/u' }).sessionFile).toBe(
      process.platform === 'linux' ? '/var/cache/u/wsz/sessions.json' : loadConfig({}).sessionFile,
    );
    expect(loadConfig({ WSZ_SESSION_FILE: '/tmp/x/s.json' }).sessionFile).toBe('/tmp/x/s.json');
    expect(configError(() => loadConfig({ WSZ_SESSION_FILE: 'rel/s.json' })).message).toBe('WSZ_SESSION_FILE must be an absolute file path, got "rel/s.json"');
  });
});

/**
 * The modules reachable from `file` through static imports and re-exports that survive compilation
 * (`import type`, `export type` and imports of types only are erased; `import()` is not followed).
 */
function staticGraph(file: string, seen = new Map<string, string | undefined>(), from?: string): Map<string, string | undefined> {
  if (seen.has(file)) return seen;
  seen.set(file, from);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  for (const statement of source.statements) {
    let specifier: string | undefined;
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const clause = statement.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) specifier = statement.moduleSpecifier.text;
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      const typeOnly =
        statement.isTypeOnly ||
        (statement.exportClause && ts.isNamedExports(statement.exportClause) &&
          statement.exportClause.elements.length > 0 && statement.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) specifier = statement.moduleSpecifier.text;
    }
    if (!specifier?.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
    staticGraph(target, seen, file);
  }
  return seen;
}

function chain(graph: Map<string, string | undefined>, file: string): string {
  const path: string[] = [];
  for (let f: string | undefined = file; f; f = graph.get(f)) path.unshift(relative(root, f));
  return path.join(' → ');
}

describe('the emulator is loaded only when used', () => {
  it.each(['index.ts', 'cli/wsz.ts', 'compat/wsz-api.ts'])('no static import path leads from src/%s to src/emulator/', (entry) => {
    const graph = staticGraph(join(src, entry));
    expect(graph.has(join(src, 'runtime.ts'))).toBe(true);
    const offending = [...graph.keys()].filter((f) => f.startsWith(emulatorDir));
    expect(offending.map((f) => chain(graph, f))).toEqual([]);
  });

  it('the graph walk sees a static import of the emulator (the check above can fail)', () => {
    const graph = staticGraph(join(emulatorDir, 'cli.ts'));
    expect([...graph.keys()]).toContain(join(emulatorDir, 'index.ts'));
  });

  describe('a real subgraph process', () => {
    let emulator: Emulator;
    beforeAll(async () => {
      emulator = await startEmulator({ port: 0 });
    });
    afterAll(() => emulator.close());

    /** Starts `src/index.ts` recording every module it resolves; stops it once ready; returns the modules. */
    async function modulesOf(extra: Record<string, string>): Promise<string[]> {
      const log = join(dir, `imports-${Math.random().toString(36).slice(2)}.txt`);
      writeFileSync(log, '');
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const key of Object.keys(env)) if (/^(LEGACY_|REDIS_URL|WSZ_|EMULATOR_|NODE_ENV)/.test(key)) delete env[key];
      Object.assign(env, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', WSZ_IMPORT_LOG: log }, extra);
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', recordImports, join(src, 'index.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        let ready = false;
        for await (const line of createInterface({ input: child.stdout })) {
          if ((JSON.parse(line) as { msg: string }).msg.startsWith('subgraph ready')) {
            ready = true;
            break;
          }
        }
        expect(ready).toBe(true);
        child.kill('SIGTERM');
        await once(child, 'exit');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((url) => (url.startsWith('file:') ? fileURLToPath(url) : url));
    }

    it('in production against a real upstream, never imports src/emulator/', async () => {
      const modules = await modulesOf({ NODE_ENV: 'production', ROUTER_SECRET: 'off', LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz' });
      expect(modules).toContain(join(src, 'runtime.ts'));
      expect(modules.filter((m) => m.startsWith(emulatorDir))).toEqual([]);
    }, 30_000);

    it('in development without configuration, does load it (so the recording above sees it)', async () => {
      const modules = await modulesOf({});
      expect(modules).toContain(join(emulatorDir, 'index.ts'));
    }, 30_000);

    it('in production without LEGACY_API_URL, stops with an error naming it', async () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const key of Object.keys(env)) if (/^(LEGACY_|REDIS_URL|WSZ_|EMULATOR_)/.test(key)) delete env[key];
      const child = spawn(process.execPath, ['--import', 'tsx', join(src, 'index.ts')], { env: { ...env, NODE_ENV: 'production', PORT: '0' } });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const [code] = await once(child, 'exit');
      expect(code).toBe(1);
      expect(stderr).toContain('LEGACY_API_URL is required with NODE_ENV=production');
    }, 30_000);
  });
});
