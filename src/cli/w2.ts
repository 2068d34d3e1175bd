/**
 * `speedlimits w2 X.npy Y.npy`: W2 between two point clouds stored as .npy files (rows are
 * points), by the debiased Sinkhorn divergence, the Gaussian (Bures) formula on the clouds'
 * moments, exact transport, or exact 1-D transport.
 */
import { readNpy, npyToMatrix } from '../npy.js';
import { costMatrix, sinkhornDivergence, w2Exact1D, w2GaussianSamples, emd } from '../transport.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';

const METHODS = ['sinkhorn', 'gaussian', 'exact', '1d'] as const;
type Method = (typeof METHODS)[number];

async function load(path: string) {
  return npyToMatrix(await readNpy(path));
}

export const w2Command: Command = {
  summary: 'Wasserstein-2 between two point clouds in .npy files (rows are points)',
  usage:
    'speedlimits w2 X.npy Y.npy [--method sinkhorn|gaussian|exact|1d] [--epsilon E] [--tol T] [--max-iter N] [--unbiased] [--json]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'unbiased', 'help'], ['method', 'epsilon', 'tol', 'max-iter']);
    if (parsed.positionals.length !== 2) throw new UsageError(`expected two .npy files, got ${parsed.positionals.length}`);
    const methodRaw = parsed.flags.get('method') ?? 'sinkhorn';
    if (!METHODS.includes(methodRaw as Method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, got '${String(methodRaw)}'`);
    const method = methodRaw as Method;
    const epsilon = numberFlag(parsed, 'epsilon', (v) => v > 0, 'a number > 0');
    const tol = numberFlag(parsed, 'tol', (v) => v > 0, 'a number > 0');
    const maxIter = numberFlag(parsed, 'max-iter', (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    const [xPath, yPath] = parsed.positionals;
    const x = await load(xPath);
    const y = await load(yPath);
    const started = performance.now();
    let result: Record<string, unknown>;
    if (method === '1d') {
      if (x.cols !== 1 || y.cols !== 1) throw new UsageError(`--method 1d needs 1-d samples, got ${x.rows}x${x.cols} and ${y.rows}x${y.cols}`);
      const r = await w2Exact1D(x.data, y.data);
      result = { w2sq: r.cost };
    } else if (method === 'gaussian') {
      const r = await w2GaussianSamples(x, y, { unbiased: parsed.flags.has('unbiased') });
      result = { w2sq: r.w2sq, meanTerm: r.meanTerm, covTerm: r.covTerm };
    } else if (method === 'exact') {
      const C = await costMatrix(x, y);
      const r = await emd(C);
      result = { w2sq: r.cost, optimal: r.optimal, iterations: r.iterations };
    } else {
      const r = await sinkhornDivergence(x, y, { epsilon, tol, maxIter });
      result = { w2sq: r.divergence, epsilon: r.epsilon, otAB: r.ab, otAA: r.aa, otBB: r.bb, converged: r.converged, marginalError: r.marginalError, iterations: r.iterations };
    }
    const w2sq = result.w2sq as number;
    const summary = { method, x: { path: xPath, points: x.rows, dim: x.cols }, y: { path: yPath, points: y.rows, dim: y.cols }, w2: Math.sqrt(Math.max(0, w2sq)), ...result, seconds: (performance.now() - started) / 1000 };
    if (parsed.flags.has('json')) {
      io.out(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    io.out(`W2 between ${xPath} (${x.rows}x${x.cols}) and ${yPath} (${y.rows}x${y.cols}), method ${method}\n`);
    io.out(`  W2²  ${w2sq.toPrecision(10)}\n  W2   ${summary.w2.toPrecision(10)}\n`);
    if (method === 'sinkhorn') io.out(`  (debiased Sinkhorn divergence at ε = ${(result.epsilon as number).toPrecision(4)}; converged: ${result.converged})\n`);
    if (method === 'gaussian') io.out(`  mean term ${(result.meanTerm as number).toPrecision(8)}, covariance term ${(result.covTerm as number).toPrecision(8)}\n`);
    if (method === 'exact' && !result.optimal) io.out('  warning: the pivot limit was reached; the plan is feasible but not proven optimal\n');
    io.out(`  ${summary.seconds.toFixed(3)} s\n`);
    return 0;
  },
};
