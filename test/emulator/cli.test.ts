/** The emulator's command line: option parsing, validation messages and the start-up line. */
import { describe, expect, it } from 'vitest';
import { buildProgram, parseCliArgs, startupLine } from '../../src/emulator/cli.js';
import { startEmulator } from '../../src/emulator/index.js';

function parse(argv: string[]): ReturnType<typeof parseCliArgs> {
  const program = buildProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return parseCliArgs(argv, program);
}

describe('emulator command line', () => {
  it('maps every option to EmulatorOptions', () => {
    const o = parse(['--port', '8091', '--scale', '0.1', '--latency', '20', '--jitter', '5', '--sessions', '3', '--seed', '7',
      '--user', 'wsz:wsz', '--user', 'anna:ge:heim', '--idle', '120', '--version', 'v21', '--auth', 'none', '--app-name', 'ERP', '--max-top', '500', '--licence-mode', 'force-login']);
    expect(o).toMatchObject({
      port: 8091, scale: 0.1, latencyMs: 20, jitterMs: 5, sessions: 3, seed: 7, users: { wsz: 'wsz', anna: 'ge:heim' },
      sessionIdleSeconds: 120, version: 'v21', auth: 'none', appName: 'ERP', maxTop: 500, host: '127.0.0.1', licenceMode: 'force-login',
    });
  });

  it('defaults to port 8090, the demo scale, 10 licences and the wsz user', () => {
    expect(parse([])).toMatchObject({ port: 8090, scale: 0.01, sessions: 10, seed: 42, users: { wsz: 'wsz' }, version: 'v20', auth: 'required', licenceMode: 'every-session' });
  });

  it('turns change tracking and the control endpoint on by default, off with --no-…', () => {
    expect(parse([])).toMatchObject({ changeTracking: true, untrackedTables: [], deletedRecordsInCatalog: false, control: true });
    expect(parse([])).toMatchObject({ entitySets: true });
    expect(parse(['--no-entity-sets'])).toMatchObject({ entitySets: false });
    expect(parse(['--change-tracking'])).toMatchObject({ changeTracking: true });
    expect(parse(['--no-change-tracking', '--no-control', '--deleted-records-in-catalog'])).toMatchObject({ changeTracking: false, control: false, deletedRecordsInCatalog: true });
    expect(parse(['--untracked', 'Formen, Form_Artikel', '--untracked', 'Kunden']).untrackedTables).toEqual(['Formen', 'Form_Artikel', 'Kunden']);
  });

  it.each([
    [['--untracked', 'Formen,Kunde'], '--untracked must name tables'],
    [['--scale', 'abc'], '--scale must be a number > 0 and ≤ 5, got "abc"'],
    [['--scale', '6'], '--scale must be a number > 0 and ≤ 5, got "6"'],
    [['--port', '70000'], '--port must be an integer between 0 and 65535, got "70000"'],
    [['--sessions', '1.5'], '--sessions must be an integer ≥ 0, got "1.5"'],
    [['--latency', '-1'], '--latency must be a number ≥ 0, got "-1"'],
    [['--idle', '0'], '--idle must be a number > 0, got "0"'],
    [['--version', 'v19'], 'v18, v20, v21'],
    [['--licence-mode', 'free'], 'every-session, force-login'],
  ])('rejects %j with a message naming the option and the value', (argv, message) => {
    expect(() => parse(argv)).toThrow(message);
  });

  it('does not echo the password of a malformed --user', () => {
    expect(() => parse(['--user', 'anna:'])).toThrow(/--user must be user:password/);
    try {
      parse(['--user', ':secret']);
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });

  it('prints the URL, row counts and user names but never passwords', async () => {
    const options = { port: 0, users: { anna: 'VerySecret' }, sessions: 3 };
    const emulator = await startEmulator(options);
    try {
      const line = startupLine(emulator, options);
      expect(line).toContain(`${emulator.url}/rest/`);
      expect(line).toMatch(/Kunden=\d+/);
      expect(line).toContain('users: anna');
      expect(line).not.toContain('VerySecret');
      expect(line).toContain('change tracking: on, global stamp 1');
      expect(line).toContain(`control: ${emulator.url}/__control/`);
    } finally {
      await emulator.close();
    }
  });
});
