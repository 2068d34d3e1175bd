/**
 * Command-line plumbing shared by every subcommand: the IO sink, the command shape, and a
 * small strict flag parser.
 */

/** Where the CLI writes; tests pass buffers. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when `err` is a terminal (progress bars redraw in place); default false. */
  isTTY?: boolean;
}

/** A subcommand. */
export interface Command {
  summary: string;
  usage: string;
  run: (args: string[], io: CliIO) => Promise<number>;
}

/** A parsed command line: flags (--name value / --name=value / --flag) and positionals. */
export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
}

/**
 * Parse `--name value`, `--name=value` and boolean `--flag`s. `booleans` lists flags that take
 * no value, `values` those that take one; anything else is a UsageError.
 */
export function parseArgs(args: string[], booleans: readonly string[], values: readonly string[] = []): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (!booleans.includes(name) && !values.includes(name)) throw new UsageError(`unknown option --${name}`);
      if (eq >= 0) flags.set(name, a.slice(eq + 1));
      else if (booleans.includes(name)) flags.set(name, true);
      else if (i + 1 < args.length && !args[i + 1].startsWith('--')) flags.set(name, args[++i]);
      else throw new UsageError(`--${name} needs a value`);
    } else if (a.startsWith('-') && a.length > 1) {
      if (a === '-h') flags.set('help', true);
      else if (a === '-v') flags.set('version', true);
      else throw new UsageError(`unknown option ${a}`);
    } else positionals.push(a);
  }
  return { flags, positionals };
}

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}


/** A numeric flag value, or undefined when absent. */
export function numberFlag(parsed: ParsedArgs, name: string, check: (v: number) => boolean, what: string): number | undefined {
  const raw = parsed.flags.get(name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw === true || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${what}, got '${String(raw)}'`);
  return v;
}
