/**
 * Runs every bench/*.bench.ts in sequence, each in its own node process (with --expose-gc so the
 * harness can collect garbage between samples), passing the flags on.
 *
 *   npm run bench [-- --quick] [-- --threads N] [-- --json] [-- --only linalg,random]
 *   node --import tsx bench/run.ts --quick
 *
 * With --json, stdout is one JSON array holding each script's document.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);

// --only is ours; everything else is checked by the harness's parser and passed on.
let only: string[] | null = null;
const passOn: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
  else if (argv[i].startsWith('--only=')) only = argv[i].slice('--only='.length).split(',').filter(Boolean);
  else passOn.push(argv[i]);
}
const cli = parseCli(passOn);

const ORDER = ['linalg', 'random', 'transport', 'ntk', 'dynamics', 'deeplinear'];
const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .filter((name) => !only || only.includes(name))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

if (benches.length === 0) {
  process.stderr.write(`no bench files matched${only ? ` --only ${only.join(',')}` : ''}\n`);
  process.exit(1);
}

const docs: unknown[] = [];
const failed: string[] = [];
const t0 = Date.now();
for (const name of benches) {
  process.stderr.write(`\n### bench/${name}.bench.ts ${passOn.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, `${name}.bench.ts`), ...passOn], {
    stdio: ['ignore', cli.json ? 'pipe' : 'inherit', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) {
    failed.push(`${name} (exit ${r.status ?? r.signal})`);
    continue;
  }
  if (cli.json) {
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      docs.push(JSON.parse(line));
    } catch {
      failed.push(`${name} (no JSON on stdout)`);
    }
  }
}
if (cli.json) process.stdout.write(JSON.stringify(docs) + '\n');
process.stderr.write(`\nbench: ${benches.length - failed.length}/${benches.length} scripts done in ${((Date.now() - t0) / 1000).toFixed(0)} s` +
  (failed.length ? `; FAILED: ${failed.join(', ')}` : '') + '\n');
process.exitCode = failed.length ? 1 : 0;
