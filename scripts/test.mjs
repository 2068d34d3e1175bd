#!/usr/bin/env node
// `npm test`: build what is stale (addon, TypeScript), run the C++ tests (ctest) and the
// vitest suite, and print one closing line `N passed, N failed, N skipped` over both.
//   --native-only   only the C++ tests
//   --js-only       only vitest
// Environment: SPEEDLIMITS_BLAS, SPEEDLIMITS_CUDA etc. as for scripts/build-native.mjs (both
// builds follow them). The C++ test build uses SPEEDLIMITS_CUDA=AUTO by default, so the CUDA
// sources and tests compile wherever nvcc is found; without a device the CUDA cases skip.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const nativeOnly = args.includes('--native-only');
const jsOnly = args.includes('--js-only');
const totals = { passed: 0, failed: 0, skipped: 0 };
const jobs = String(Math.max(1, Math.min(8, availableParallelism())));

function run(cmd, cmdArgs, opts = {}) {
  console.log(`\n> ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: opts.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', env: { ...process.env, ...opts.env } });
  if (opts.capture && r.stdout) process.stdout.write(r.stdout);
  return { ok: !r.error && r.status === 0, status: r.status, stdout: r.stdout ?? '', error: r.error };
}

function finish() {
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed > 0 ? 1 : 0);
}

function nativeTests() {
  // A plain CMake build of the core and its tests (no Node needed), in build-tests/<blas>.
  const blas = (process.env.SPEEDLIMITS_BLAS ?? 'AUTO').toUpperCase();
  const cuda = (process.env.SPEEDLIMITS_CUDA ?? 'AUTO').toUpperCase();
  const dir = join(root, 'build-tests', blas.toLowerCase());
  const configure = run('cmake', ['-S', root, '-B', dir, '-DSPEEDLIMITS_ADDON=OFF', '-DSPEEDLIMITS_BUILD_TESTS=ON',
    `-DSPEEDLIMITS_BLAS=${blas}`, `-DSPEEDLIMITS_CUDA=${cuda}`, '-DCMAKE_BUILD_TYPE=Release']);
  const build = configure.ok && run('cmake', ['--build', dir, '--parallel', jobs]);
  if (!configure.ok || !build.ok) {
    console.error('native tests: the C++ test build failed');
    totals.failed++;
    return;
  }
  const ctest = run('ctest', ['--test-dir', dir, '--output-on-failure', '--verbose'], { capture: true });
  // Each test executable ends with "N cases, K failed" or "N cases, K failed, S skipped" (cases
  // that could not run here, e.g. CUDA ones without a device); ctest itself with
  // "... tests failed out of M".
  const perCase = [...ctest.stdout.matchAll(/(\d+) cases, (\d+) failed(?:, (\d+) skipped)?/g)];
  const m = /(\d+) tests? failed out of (\d+)/.exec(ctest.stdout);
  if (!m) {
    totals.failed++;
    return;
  }
  const exeFailed = Number(m[1]);
  const cases = perCase.reduce((s, x) => s + Number(x[1]), 0);
  const casesFailed = perCase.reduce((s, x) => s + Number(x[2]), 0);
  const casesSkipped = perCase.reduce((s, x) => s + Number(x[3] ?? 0), 0);
  // An executable that crashed prints no case line: count it as one more failure.
  const crashed = Math.max(0, exeFailed - perCase.filter((x) => Number(x[2]) > 0).length);
  totals.passed += cases - casesFailed - casesSkipped;
  totals.failed += casesFailed + crashed;
  totals.skipped += casesSkipped;
  console.log(`ctest: ${Number(m[2])} executables, ${cases - casesFailed - casesSkipped} cases passed, ` +
    `${casesFailed + crashed} failed, ${casesSkipped} skipped`);
}

function jsTests() {
  const build = run(process.execPath, [join(root, 'scripts', 'build-native.mjs'), '--if-needed']);
  if (!build.ok) {
    totals.failed++;
    return;
  }
  const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  if (!tsc.ok) {
    console.error('TypeScript: compilation failed');
    totals.failed++;
  }
  const summary = join(root, '.vitest-summary.json');
  rmSync(summary, { force: true });
  const vitest = run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run']);
  if (!existsSync(summary)) {
    totals.failed++;
    return;
  }
  const s = JSON.parse(readFileSync(summary, 'utf8'));
  totals.passed += s.passed;
  totals.failed += s.failed;
  totals.skipped += s.skipped;
  if (!vitest.ok && s.failed === 0) totals.failed++;  // vitest failed outside any test
}

if (!jsOnly) nativeTests();
if (!nativeOnly) jsTests();
finish();
