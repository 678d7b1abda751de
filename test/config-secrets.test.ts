import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../src/config.js';
import { refusal } from './helpers/config.js';

const cliEntry = fileURLToPath(new URL('../src/cli/wsz.ts', import.meta.url));
const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsz-secrets-'));
  const path = join(dir, 'wsz.config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}


describe('configuration errors never show a secret', () => {
  it.each([
    ['a password in an LEGACY_API_URL that is not http(s)', { LEGACY_API_URL: 'ftp://api:Geheim-2024@erp:8080' }, 'LEGACY_API_URL', 'ftp://(credentials hidden)@erp:8080'],
    ['a password in an LEGACY_API_URL with a bad port', { LEGACY_API_URL: 'http://api:Geheim-2024@erp:99999' }, 'LEGACY_API_URL', '(credentials hidden)@erp:99999'],
    ['a password with "/" and "@" in a malformed LEGACY_API_URL', { LEGACY_API_URL: 'http://api:Ge/h@eim-2024@erp x' }, 'LEGACY_API_URL', '(credentials hidden)@erp x'],
    ['a password with "/" in a malformed REDIS_URL', { REDIS_URL: 'redis://default:Ge/heim-2024@redis host:6379' }, 'REDIS_URL', '(credentials hidden)@redis host'],
    ['a password with "/" in a REDIS_URL that looks right', { REDIS_URL: 'redis://default:Ge/heim-2024@127.0.0.1:6379' }, 'REDIS_URL is not a valid URL (percent-encode', '"redis://(credentials hidden)@127.0.0.1:6379"'],
    ['a password pasted into another setting', { LEGACY_API_URL: 'http://erp', LEGACY_API_PASSWORD: 'Geheim-2024', PORT: 'Geheim-2024' }, 'PORT must be an integer', 'got "(hidden)"'],
  ])('%s', (_what, env, setting, shown) => {
    const message = refusal(env);
    expect(message).toContain(setting);
    expect(message).toContain(shown);
    expect(message).not.toContain('Geheim');
    expect(message).not.toContain('eim-2024');
  });

  it('names a mistyped key of the config file, and what is allowed, without the object around it', () => {
    const path = configFile({ environments: { live: { baseUrl: 'http://erp', username: 'api', password: 'Geheim-2024', pasword: 'Tippfehler-99' } } });
    const message = refusal({ WSZ_CONFIG_FILE: path });
    expect(message).toContain('environments.live: unknown setting "pasword" (allowed: baseUrl, username, password, auth)');
    expect(message).not.toMatch(/Geheim|Tippfehler/);
  });

  it('names a mistyped top-level key of the config file', () => {
    const path = configFile({ environments: { live: { baseUrl: 'http://erp', password: 'Geheim-2024' } }, retires: 3 });
    const message = refusal({ WSZ_CONFIG_FILE: path });
    expect(message).toContain('(top level): unknown setting "retires" (allowed: environments, defaultEnvironment');
    expect(message).not.toContain('Geheim');
  });

  it('hides the values of secret-looking keys, and URL credentials, in a value it shows', () => {
    const path = configFile({ environments: { 'bad name!': { baseUrl: 'http://api:Url-Geheim@erp', apiToken: 'Token-Geheim', password: 'Geheim-2024' } } });
    const message = refusal({ WSZ_CONFIG_FILE: path });
    expect(message).toContain('environments');
    expect(message).not.toMatch(/Geheim/);
  });

  it('hides credentials in an invalid baseUrl of the config file', () => {
    const path = configFile({ environments: { live: { baseUrl: 'ftp://api:Url-Geheim@erp', password: 'Geheim-2024' } } });
    const message = refusal({ WSZ_CONFIG_FILE: path });
    expect(message).toContain('environments.live.baseUrl: must be an http(s) URL, got "ftp://(credentials hidden)@erp"');
    expect(message).not.toMatch(/Geheim/);
  });

  it('reports a config file that is not JSON by line and column, never quoting its text', () => {
    const path = configFile('{\n  "environments": {\n    "live": { "baseUrl": "http://erp", "password": "Geheim-2024", }\n  }\n}\n');
    const message = refusal({ WSZ_CONFIG_FILE: path });
    expect(message).toMatch(/is not valid JSON at line 3, column \d+$/);
    expect(message).not.toContain('Geheim');
  });

  it('maskSecrets masks every password of the environment and its file in any text', () => {
    const path = configFile({ environments: { live: { baseUrl: 'http://erp', password: 'Datei-Geheim' } } });
    const env = { WSZ_CONFIG_FILE: path, LEGACY_API_PASSWORD: 'Env-Geheim', REDIS_URL: 'redis://u:Redis-Geheim@r:6379', SOME_TOKEN: 'Token-Geheim' };
    const text = maskSecrets('Env-Geheim Datei-Geheim Redis-Geheim Token-Geheim redis://x:y@h', env);
    expect(text).not.toMatch(/Geheim|x:y/);
  });
});

/** Environment without any upstream or Redis setting, as on a newcomer's machine. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(LEGACY_|REDIS_URL|WSZ_CONFIG_FILE|EMULATOR_|NODE_ENV)/.test(key)) delete env[key];
  }
  return { ...env, PORT: '0', HOST: '127.0.0.1', ...extra };
}

async function start(extra: Record<string, string>): Promise<{ code: number | null; output: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: cleanEnv(extra) });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: stdout + stderr, stderr };
}

describe('a refused start-up prints no secret', () => {
  it('for a password in an invalid LEGACY_API_URL', async () => {
    const { code, output, stderr } = await start({ LEGACY_API_URL: 'ftp://api:Geheim-2024@erp:8080', LEGACY_API_PASSWORD: 'Geheim-Passwort' });
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration: LEGACY_API_URL: must be an http(s) URL, got "ftp://(credentials hidden)@erp:8080"');
    expect(output).not.toContain('Geheim');
  });

  it('for a mistyped key in the config file', async () => {
    const path = configFile({ environments: { live: { baseUrl: 'http://erp', password: 'Geheim-2024', pasword: 'Tippfehler-99' } } });
    const { code, output, stderr } = await start({ WSZ_CONFIG_FILE: path });
    expect(code).toBe(1);
    expect(stderr).toContain('unknown setting "pasword"');
    expect(output).not.toMatch(/Geheim|Tippfehler/);
  });

  it('for a Redis that does not answer, with "/" in its password', async () => {
    const { code, output, stderr } = await start({ REDIS_URL: 'redis://default:Ge/heim-2024@127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid configuration: REDIS_URL is not a valid URL');
    expect(output).not.toContain('heim-2024');
  });

  it('for a Redis that does not answer, with its password in the URL: the server waits for it, the CLI stops', async () => {
    const url = 'redis://default:Geheim-2024@127.0.0.1:1';
    // The server stays up, not ready (see test/subgraph/startup.test.ts); what it prints meanwhile has no secret.
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: cleanEnv({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: url }) });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const until = Date.now() + 20_000;
      while (!output.includes('subgraph ready at') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(output).toContain('REDIS_URL: Redis at redis://(credentials hidden)@127.0.0.1:1 does not answer');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    expect(output).not.toContain('Geheim');

    const cli = spawn(process.execPath, ['--import', 'tsx', cliEntry, 'session'], {
      env: cleanEnv({ REDIS_URL: url, LEGACY_API_URL: 'http://127.0.0.1:1', LEGACY_API_USERNAME: 'api', LEGACY_API_PASSWORD: 'Geheim-Passwort' }),
    });
    let cliOutput = '';
    cli.stdout.on('data', (chunk) => (cliOutput += chunk));
    cli.stderr.on('data', (chunk) => (cliOutput += chunk));
    const [code] = (await once(cli, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(cliOutput).toContain('REDIS_URL: Redis at redis://(credentials hidden)@127.0.0.1:1 does not answer');
    expect(cliOutput).not.toContain('Geheim');
  });
});
