#!/usr/bin/env node
// Builds the native addon. Run by `npm install` (the package's install script), `npm test`
// (when sources changed) and `npm run build:native`.
//
// Primary path: cmake-js (CMakeLists.txt) with node-api-headers, so no Node headers are
// downloaded. Fallback: node-gyp (binding.gyp, CPU only) when CMake is missing or fails.
//
// Settings come from the environment (or --name=value flags):
//   SPEEDLIMITS_BLAS=AUTO|OPENBLAS|OFF   SPEEDLIMITS_CUDA=AUTO|ON|OFF
//   SPEEDLIMITS_PORTABLE=1 (no -march=native)   SPEEDLIMITS_BUILD=cmake|gyp
//   SPEEDLIMITS_SKIP_BUILD=1 (do nothing)       --if-needed (skip when up to date)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const args = process.argv.slice(2);
const flag = (name) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : process.env[`SPEEDLIMITS_${name.toUpperCase()}`];
};

if (process.env.SPEEDLIMITS_SKIP_BUILD === '1') {
  console.log('speedlimits: SPEEDLIMITS_SKIP_BUILD=1, not building the native addon');
  process.exit(0);
}

const settings = {
  blas: (flag('blas') ?? 'AUTO').toUpperCase(),
  cuda: (flag('cuda') ?? 'AUTO').toUpperCase(),
  portable: ['1', 'true', 'ON'].includes(String(flag('portable') ?? '0')),
  build: (flag('build') ?? 'cmake').toLowerCase(),
};
for (const [key, allowed] of [['blas', ['AUTO', 'OPENBLAS', 'OFF']], ['cuda', ['AUTO', 'ON', 'OFF']], ['build', ['cmake', 'gyp']]]) {
  if (!allowed.includes(settings[key])) {
    console.error(`speedlimits: SPEEDLIMITS_${key.toUpperCase()} must be one of ${allowed.join(', ')}, got '${settings[key]}'`);
    process.exit(2);
  }
}

const buildDir = join(root, 'build');
const addon = join(buildDir, 'Release', 'speedlimits_native.node');
const stampFile = join(buildDir, 'speedlimits-build.json');

// A fingerprint of everything that affects the binary: settings + native sources + build files.
function fingerprint() {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(settings));
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (!dir.includes(join('native', 'tests'))) files.push(p);
    }
  };
  walk(join(root, 'native'));
  files.push(join(root, 'CMakeLists.txt'), join(root, 'binding.gyp'), join(root, 'package.json'));
  for (const f of files.sort()) {
    if (!existsSync(f)) continue;
    hash.update(f);
    hash.update(readFileSync(f));
  }
  return hash.digest('hex');
}

const fp = fingerprint();
if (args.includes('--if-needed') && existsSync(addon) && existsSync(stampFile)) {
  try {
    if (JSON.parse(readFileSync(stampFile, 'utf8')).fingerprint === fp) process.exit(0);
  } catch {
    /* rebuild */
  }
}

function run(cmd, cmdArgs, opts = {}) {
  console.log(`speedlimits: ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: `exit code ${r.status}` };
}

function have(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function buildWithCmake() {
  if (!have('cmake')) return { ok: false, why: 'cmake is not on PATH' };
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const defs = [
    `--CDSPEEDLIMITS_BLAS=${settings.blas}`,
    `--CDSPEEDLIMITS_CUDA=${settings.cuda}`,
    `--CDSPEEDLIMITS_NATIVE_ARCH=${settings.portable ? 'OFF' : 'ON'}`,
  ];
  // Reconfigure when the settings changed since the last build (CMake caches -D values).
  let previous = null;
  try {
    previous = JSON.parse(readFileSync(stampFile, 'utf8')).settings;
  } catch {
    /* first build */
  }
  const sameSettings = previous !== null && JSON.stringify(previous) === JSON.stringify(settings);
  const parallel = ['--parallel', String(Math.max(1, Math.min(8, availableParallelism())))];
  const cmd = sameSettings && existsSync(join(buildDir, 'CMakeCache.txt')) ? 'build' : 'compile';
  if (cmd === 'compile' && existsSync(join(buildDir, 'CMakeCache.txt'))) {
    const c = run(process.execPath, [cmakeJs, 'configure', ...defs]);
    if (!c.ok) return c;
    return run(process.execPath, [cmakeJs, 'build', ...defs, ...parallel]);
  }
  return run(process.execPath, [cmakeJs, cmd, ...defs, ...parallel]);
}

function buildWithGyp() {
  if (settings.blas === 'OFF') return { ok: false, why: 'binding.gyp always links OpenBLAS; use CMake for SPEEDLIMITS_BLAS=OFF' };
  // npm ships node-gyp; prefer the one npm runs (npm_config_node_gyp), else a local copy.
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  const gyp = candidates.find((c) => c && existsSync(c));
  if (!gyp) return { ok: false, why: 'node-gyp was not found' };
  // Node's own headers, so node-gyp never tries to download them (offline machines).
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const extra = nodedir ? [`--nodedir=${nodedir}`] : [];
  rmSync(buildDir, { recursive: true, force: true });
  return run(process.execPath, [gyp, 'rebuild', ...extra]);
}

let result;
if (settings.build === 'gyp') {
  result = buildWithGyp();
} else {
  result = buildWithCmake();
  if (!result.ok && settings.blas !== 'OFF' && settings.cuda !== 'ON') {
    console.warn(`speedlimits: the CMake build failed (${result.why}); trying the node-gyp fallback (CPU only, needs OpenBLAS)`);
    const fallback = buildWithGyp();
    if (fallback.ok) result = fallback;
  }
}

if (!result.ok || !existsSync(addon)) {
  console.error(
    [
      '',
      'speedlimits: building the native addon failed.',
      `  reason: ${result.ok ? `${addon} was not produced` : result.why}`,
      '  needs: cmake >= 3.18 and a C++17 compiler (g++ >= 9 or clang >= 10).',
      '  optional: OpenBLAS + LAPACKE (Debian/Ubuntu: sudo apt-get install libopenblas-dev liblapacke-dev pkg-config).',
      '  without them: SPEEDLIMITS_BLAS=OFF npm run build:native  (the builtin kernels are used).',
      '  details: docs/build.md',
      '',
    ].join('\n'),
  );
  process.exit(1);
}
mkdirSync(buildDir, { recursive: true });
writeFileSync(stampFile, JSON.stringify({ fingerprint: fp, settings, builtAt: new Date().toISOString() }, null, 2));
console.log(`speedlimits: native addon ready (${addon})`);
