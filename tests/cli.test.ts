import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { buildInfo } from '../src/index.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const root = join(import.meta.dirname, '..');

describe('speedlimits CLI', () => {
  it('info --json prints the build info', async () => {
    const { code, out } = await cli('info', '--json');
    expect(code).toBe(0);
    const info = JSON.parse(out);
    expect(info.blas).toBe(buildInfo().blas);
    expect(info.napiVersion).toBe(8);
    expect(info.backends.map((b: { name: string }) => b.name)).toEqual(['cpu', 'cuda']);
  });

  it('info prints a table', async () => {
    const { code, out } = await cli('info');
    expect(code).toBe(0);
    expect(out).toMatch(/^speedlimits \d+\.\d+\.\d+/);
    expect(out).toMatch(/BLAS\s+\S+/);
    expect(out).toMatch(/CUDA\s+/);
  });

  it('--help, --version, command help', async () => {
    expect((await cli('--help')).out).toMatch(/Usage: speedlimits <command>/);
    expect((await cli()).out).toMatch(/Commands:\n\s+run .*main job[\s\S]*\n\s+info/);
    expect((await cli('--version')).out.trim()).toBe(buildInfo().version);
    expect((await cli('info', '--help')).out).toMatch(/Usage: speedlimits info/);
  });

  it('usage errors exit with 2 and say what is wrong', async () => {
    const unknown = await cli('fly');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command 'fly'/);
    const badFlag = await cli('info', '--colour');
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toMatch(/unknown option --colour/);
    const badThreads = await cli('info', '--threads', 'x');
    expect(badThreads.code).toBe(2);
    expect(badThreads.err).toMatch(/--threads must be a positive integer/);
    expect((await cli('info', 'extra')).code).toBe(2);
  });

  it('the installed bin runs (compiled dist/)', () => {
    expect(existsSync(join(root, 'dist', 'cli', 'main.js'))).toBe(true);
    const r = spawnSync(process.execPath, [join(root, 'bin', 'speedlimits.js'), 'info', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).version).toBe(buildInfo().version);
  });

  it('a missing addon gives one error listing the paths tried and the fix', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'speedlimits.js'), 'info'], {
      encoding: 'utf8',
      env: { ...process.env, SPEEDLIMITS_NATIVE_PATH: '/nonexistent/speedlimits_native.node' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/could not load the native addon/);
    expect(r.stderr).toMatch(/\/nonexistent\/speedlimits_native\.node: not found/);
    expect(r.stderr).toMatch(/npm run build:native/);
    expect(r.stderr).toMatch(/ERR_NATIVE_LOAD/);
  });
});
