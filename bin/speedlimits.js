#!/usr/bin/env node
// Entry point of the `speedlimits` command (compiled TypeScript lives in dist/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`speedlimits: ${entry} is missing; build it with \`npm run build:ts\` (or \`npm install\`) in ${root}\n`);
  process.exit(1);
}
// A closed pipe (`speedlimits … | head`) ends the output quietly instead of with an EPIPE trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
