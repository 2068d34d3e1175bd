/**
 * Progress display for long CLI runs: a bar redrawn in place on a terminal, plain lines every
 * 10 % otherwise (logs, CI), nothing with --quiet.
 */
import type { CliIO } from './args.js';

export interface Progress {
  /** Report the completed fraction of the current stage, in [0, 1]. */
  update(fraction: number): void;
  /** Start a named stage (ends the previous one). */
  stage(label: string): void;
  /** End the display (a newline after a bar). */
  done(): void;
}

export function createProgress(io: CliIO, quiet: boolean): Progress {
  let label = '';
  let lastTenth = -1;
  let drawn = false;
  const width = 30;
  const end = () => {
    if (drawn && io.isTTY) io.err('\n');
    drawn = false;
  };
  return {
    stage(l: string) {
      end();
      label = l;
      lastTenth = -1;
      if (!quiet && !io.isTTY) io.err(`${label} …\n`);
      this.update(0);
    },
    update(fraction: number) {
      if (quiet) return;
      const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
      if (io.isTTY) {
        const fill = Math.round(f * width);
        io.err(`\r${label.padEnd(28).slice(0, 28)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(f * 100).toFixed(0).padStart(3)}%`);
        drawn = true;
        return;
      }
      const tenth = Math.floor(f * 10);
      if (tenth > lastTenth && tenth > 0) {
        lastTenth = tenth;
        io.err(`${label}: ${tenth * 10}%\n`);
      }
    },
    done() {
      end();
    },
  };
}
