/**
 * The `speedlimits` command line. `main(argv, io)` is exported so tests run it in-process.
 * Subcommands register in COMMANDS; later engines add theirs (run, w2, ntk, train).
 */
import { buildInfo, backends, setThreads } from '../info.js';
import { SpeedlimitsError } from '../errors.js';
import { parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { deepLinearCommand } from './deeplinear.js';
import { ntkCommand } from './ntk.js';
import { ftCommand } from './ft.js';
import { runCommand } from './run.js';
import { samplersCommand } from './samplers.js';
import { trainCommand } from './train.js';
import { w2Command } from './w2.js';

export type { CliIO } from './args.js';



function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  info: {
    summary: 'show the build: BLAS backend, threads, SIMD, CUDA',
    usage: 'speedlimits info [--json] [--threads N]',
    async run(args, io) {
      const parsed = parseArgs(args, ['json', 'help'], ['threads']);
      if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
      const threads = parsed.flags.get('threads');
      if (threads !== undefined) {
        const n = Number(threads);
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--threads must be a positive integer, got '${String(threads)}'`);
        setThreads(n);
      }
      const info = buildInfo();
      if (parsed.flags.has('json')) {
        io.out(JSON.stringify({ ...info, backends: backends() }, null, 2) + '\n');
        return 0;
      }
      const cuda = backends().find((b) => b.name === 'cuda');
      io.out(`speedlimits ${info.version}\n`);
      io.out(
        table([
          ['BLAS', `${info.blas}${info.blasCompiled && info.blas !== 'OpenBLAS' ? ' (OpenBLAS compiled, builtin selected)' : ''}`],
          ['LAPACK', info.lapack],
          ['OpenMP', info.openmp ? 'yes' : 'no'],
          ['threads', `${info.threads} of ${info.hardwareThreads} hardware`],
          ['SIMD', info.simd],
          ['CUDA', cuda ? cuda.detail : 'unknown'],
          ['N-API', String(info.napiVersion)],
          ['compiler', info.compiler],
          ['node', `${info.nodeVersion} (${info.platform}-${info.arch})`],
        ]),
      );
      return 0;
    },
  },
  w2: w2Command,
  ntk: ntkCommand,
  train: trainCommand,
  ft: ftCommand,
  samplers: samplersCommand,
  deeplinear: deepLinearCommand,
};

function help(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    'speedlimits — how close does neural-network training come to the thermodynamic speed limit?',
    '',
    'Usage: speedlimits <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n].summary}`),
    '',
    'Options:',
    '  -h, --help     show help (also: speedlimits <command> --help)',
    '  -v, --version  show the version',
    '',
  ].join('\n');
}

/**
 * Run the CLI. Returns the exit code (0 ok, 1 failure, 2 usage error).
 * @example process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[], io: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY === true }): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(help());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    const { createRequire } = await import('node:module');
    io.out(`${(createRequire(import.meta.url)('../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    io.err(`speedlimits: unknown command '${first}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`Usage: ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`speedlimits ${first}: ${e.message}\nUsage: ${command.usage}\n`);
      return 2;
    }
    if (e instanceof SpeedlimitsError || e instanceof RangeError || e instanceof TypeError) {
      io.err(`speedlimits ${first}: ${e.message}${e instanceof SpeedlimitsError ? ` [${e.code}]` : ''}\n`);
      return 1;
    }
    throw e;
  }
}
