/**
 * The only file that loads the native addon. It types the binding, and when loading fails it
 * throws one error that lists every path tried and how to fix it.
 *
 * Override the location with the `SPEEDLIMITS_NATIVE_PATH` environment variable (a path to a
 * `.node` file), e.g. for bundlers or a prebuilt binary.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpeedlimitsError } from './errors.js';

/** Build facts reported by the addon. */
export interface NativeBuildInfo {
  /** Package version. */
  version: string;
  /** Active BLAS: 'OpenBLAS' or 'builtin' (the core's own kernels). */
  blas: string;
  /** Active LAPACK: 'LAPACKE' or 'builtin'. */
  lapack: string;
  /** True when OpenBLAS + LAPACKE were found at build time. */
  blasCompiled: boolean;
  openmp: boolean;
  /** Threads the engine uses (see setThreads). */
  threads: number;
  hardwareThreads: number;
  /** Vector instruction set the core was compiled for. */
  simd: string;
  cudaCompiled: boolean;
  cudaDevices: number;
  cudaDeviceNames: string[];
  napiVersion: number;
  compiler: string;
}

type F64 = Float64Array;
type Async<T extends boolean> = T extends true ? Promise<void> : void;
type Ret<T extends boolean, R> = T extends true ? Promise<R> : R;

/** The raw binding. Arguments are validated by the TS layer before they get here. */
export interface NativeBinding {
  buildInfo(): NativeBuildInfo;
  setThreads(n: number): void;
  getThreads(): number;
  setLinalgBackend(backend: 'blas' | 'builtin'): void;
  getLinalgBackend(): 'blas' | 'builtin';
  setErrorClass(ctor: new (code: string, message: string) => Error): void;

  gemm<A extends boolean>(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    A: F64 | Float32Array, lda: number, B: F64 | Float32Array, ldb: number, beta: number,
    C: F64 | Float32Array, ldc: number, async: A,
  ): Async<A>;
  syrk<A extends boolean>(
    lower: boolean, trans: boolean, n: number, k: number, alpha: number, A: F64, lda: number,
    beta: number, C: F64, ldc: number, async: A,
  ): Async<A>;
  potrf<A extends boolean>(lower: boolean, n: number, A: F64, lda: number, async: A): Async<A>;
  syevd<A extends boolean>(n: number, A: F64, lda: number, w: F64, vectors: boolean, async: A): Async<A>;

  rngNormal<A extends boolean>(seed: bigint, stream: bigint, offset: bigint, out: F64, async: A): Async<A>;
  rngUniform<A extends boolean>(seed: bigint, stream: bigint, offset: bigint, out: F64, async: A): Async<A>;
  rngBits<A extends boolean>(seed: bigint, stream: bigint, offset: bigint, out: Uint32Array, async: A): Async<A>;

  costMatrix<A extends boolean>(
    x: F64 | Float32Array, n: number, y: F64 | Float32Array, m: number, d: number, center: boolean, same: boolean,
    out: F64 | Float32Array, async: A, caller?: string, cuda?: boolean,
  ): Async<A>;
  sinkhorn<A extends boolean>(
    C: F64 | Float32Array, n: number, m: number, a: F64, b: F64, f: F64, g: F64, plan: F64 | null,
    options: NativeSinkhornOptions, async: A, caller?: string,
  ): Ret<A, NativeSinkhornResult>;
  sinkhornSymmetric<A extends boolean>(
    C: F64 | Float32Array, n: number, a: F64, f: F64, options: NativeSinkhornOptions, async: A, caller?: string,
  ): Ret<A, NativeSinkhornResult>;
  w2Gaussian<A extends boolean>(d: number, m1: F64, C1: F64, m2: F64, C2: F64, async: A): Ret<A, NativeGaussianW2>;
  w2GaussianSamples<A extends boolean>(
    x: F64 | Float32Array, M: number, y: F64 | Float32Array, N: number, P: number, a: F64, b: F64,
    options: { unbiased: boolean } & Partial<NativeControlArrays>, async: A, caller?: string,
  ): Ret<A, NativeGaussianW2>;
  w2Exact1D<A extends boolean>(x: F64, a: F64, y: F64, b: F64, wantPlan: boolean, async: A): Ret<A, NativeExact1D>;
  netLayout(spec: NativeNetSpec): { name: string; shape: number[]; offset: number; size: number; fanIn: number }[];
  netInit(spec: NativeNetSpec, seed: bigint, stream: bigint, out: F64): void;
  netForward(spec: NativeNetSpec, params: F64 | Float32Array, x: F64 | Float32Array, n: number, out: F64 | Float32Array): void;
  netLossGradient(
    spec: NativeNetSpec, params: F64 | Float32Array, x: F64 | Float32Array, y: F64 | Float32Array, n: number,
    grad: F64 | Float32Array, perSample: F64 | Float32Array | null,
  ): number;
  ntk<A extends boolean>(
    spec: NativeNetSpec, params: F64 | Float32Array, x1: F64 | Float32Array, n1: number, x2: F64 | Float32Array | null,
    n2: number, trace: boolean, out: F64 | Float32Array, options: Partial<NativeControlArrays> & { cuda?: boolean }, async: A,
  ): Async<A>;
  ntkAnalytic<A extends boolean>(
    spec: NativeNetSpec, x1: F64, n1: number, x2: F64 | null, n2: number, ntk: F64, nngp: F64,
    options: Partial<NativeControlArrays>, async: A,
  ): Async<A>;
  spectrum<A extends boolean>(K: F64, n: number, y: F64 | null, vectors: boolean, async: A): Ret<A, NativeSpectrum>;
  powerLawFit(values: F64, k1: number, k2: number): NativePowerLawFit;
  fitAlphaBeta(values: F64, projections: F64, k1: number, k2: number): {
    alpha: NativePowerLawFit; beta: NativePowerLawFit; betaResidual: NativePowerLawFit; nu: number; scalingRegime: boolean;
  };
  analyticEfficiency(
    eigenvalues: F64, residuals: F64 | null, offsets2: F64 | null, times: F64,
    options: NativeThermoOptions & { nullDirections: number },
  ): NativeThermoSeries;
  linearDynamics(
    J: F64 | null, K: F64 | null, n: number, P: number, y: F64, theta0: F64 | null, f0: F64 | null, times: F64,
    options: NativeThermoOptions,
  ): NativeLinearDynamics;
  powerLawPlateau(alpha: number, beta: number): { value: number; applies: boolean; nu: number; regime: string; decayExponent: number };
  regimeBoundaries(lambdaMax: number, lambdaMin: number, eta: number): {
    earlyEnd: number; saturationStart: number; tauSaturation: number; decades: number;
  };
  emd<A extends boolean>(
    C: F64, n: number, m: number, a: F64, b: F64, options: { maxIter: number } & Partial<NativeControlArrays>, async: A,
  ): Ret<A, NativeEmd>;
  integralFT(sigma: F64, z: number): {
    samples: number; mean: number; variance: number; value: number; stderr: number; ciLow: number; ciHigh: number;
    effectiveSamples: number; fractionNegative: number;
  };
  detailedFT(sigma: F64, bins: number, sMax: number): {
    centers: F64; counts: F64; s: F64; logRatio: F64; weight: F64; slope: number; slopeStderr: number; binWidth: number;
  };
  /** Gaussian NESS of θ ← (I − ηH)θ + noise (src/ness.ts validates; matrices row-major P×P). */
  nessGaussian(
    H: F64, P: number, gradientCovariance: F64 | null, diffusion: F64 | null, options: { eta: number; temperature: number },
    caller?: string,
  ): {
    diffusion: F64; covariance: F64; covarianceContinuous: F64; entropyPerStep: number; entropyPerStepContinuous: number;
    area: F64; velocity: F64; commutator: number; equilibrium: boolean;
  };
  /** Exact stationary moments of ULA / SGLD-WR / SGWORLD on Bayesian linear regression (src/ness.ts). */
  samplerStationaryMoments(
    X: F64, n: number, P: number, y: F64,
    options: {
      sampler: 'ula' | 'sgld' | 'sgworld'; temperature: number; gamma: number; eta: number; batchSize: number;
      dropRemainder: boolean; maxPartitions: number;
    },
    caller?: string,
  ): {
    mean: F64; covariance: F64; posteriorMean: F64; posteriorCovariance: F64; w2sq: number; w2: number; partitions: number;
    meanShiftFirstOrder?: F64;
  };
  /** Index of the first NaN/±Inf, or −1 (src/validate.ts uses it for large arrays). */
  firstNonFinite(data: Float64Array | Float32Array): number;
  /** Ask for transparent huge pages behind a fresh, untouched array of ≥ 4 MiB (core/memory.hpp). */
  adviseHugePages(data: Float64Array | Float32Array | Uint32Array): boolean;
  /** Cov_S[ĝ_S(θ*)] of Bayesian linear regression (src/ness.ts). */
  gradientNoiseCovariance(X: F64, n: number, P: number, y: F64, options: { temperature: number; gamma: number; eta: number; batchSize: number }, caller?: string): F64;
  /** Per-trajectory Σ of a linear chain in its stationary state (src/ness.ts builds and validates the options). */
  stationaryChainEntropy<A extends boolean>(options: Record<string, unknown>, async: A): Ret<A, {
    sigma: F64; medium: F64; mean: F64; covariance: F64; hessian: F64; kernelDiffusion: F64; entropyPerStep: number; exact: boolean;
  }>;
  /** Ensemble training (src/dynamics.ts builds and validates the options object). */
  train<A extends boolean>(spec: NativeNetSpec, x: F64, y: F64, n: number, options: Record<string, unknown>, async: A): Ret<A, unknown>;
  /** Deep linear networks (src/deeplinear.ts builds and validates the options objects). */
  deepLinear<A extends boolean>(options: Record<string, unknown>, async: A): Ret<A, unknown>;
  deepLinearCK(depth: number, residual: boolean, beta0: number): { value: number; limit: number };
  deepLinearCKEmpirical<A extends boolean>(options: Record<string, unknown>, async: A): Ret<A, unknown>;
}

/** A validated network spec as the core takes it (see src/nets.ts). */
export interface NativeNetSpec {
  type: 'fcn' | 'cnn';
  /** Length of one input row: d (FCN) or C·H·W (CNN). */
  inputDim: number;
  /** FCN hidden widths or CNN conv channels. */
  widths: number[];
  inChannels: number;
  height: number;
  width: number;
  kernel: number;
  outputDim: number;
  activation: 'relu' | 'erf' | 'tanh' | 'linear' | 'gelu';
  bias: boolean;
  parameterization: 'ntk' | 'standard';
  sigmaW: number;
  sigmaB: number;
}

export interface NativeSpectrum {
  values: Float64Array;
  vectors?: Float64Array;
  projections?: Float64Array;
  negativeCount: number;
  mostNegative: number;
}

export interface NativePowerLawFit {
  exponent: number;
  prefactor: number;
  r2: number;
  k1: number;
  k2: number;
  points: number;
}

export interface NativeEmd {
  cost: number;
  rows: Int32Array;
  cols: Int32Array;
  mass: Float64Array;
  optimal: boolean;
  iterations: number;
}

/** Abort flag and progress slot shared with a long-running native call. */
export interface NativeControlArrays {
  abort: Int32Array;
  progress: Float64Array;
}

export interface NativeSinkhornOptions extends Partial<NativeControlArrays> {
  /** Run on the CUDA backend (resolved by src/backend.ts). */
  cuda?: boolean;
  epsilon: number;
  tol: number;
  maxIter: number;
  epsilonScaling: boolean;
  epsilonStart: number;
  epsilonFactor: number;
  warmStart: boolean;
  newton: boolean;
  kernel: boolean;
}

export interface NativeSinkhornResult {
  transportCost: number;
  objective: number;
  marginalError: number;
  planMass: number;
  iterations: number;
  converged: boolean;
}

export interface NativeGaussianW2 {
  w2sq: number;
  meanTerm: number;
  covTerm: number;
}

export interface NativeExact1D {
  cost: number;
  rows?: Int32Array;
  cols?: Int32Array;
  mass?: Float64Array;
}

/** Scalar options of the closed-form speed-limit calls (native/core/thermo.hpp). */
export interface NativeThermoOptions {
  eta: number;
  temperature: number;
  gamma: number;
  sigma0: number;
  discrete: boolean;
  pathLength: boolean;
}

/** ℓ(t), W2²/ℓ², ℓ²/(t·work): present with pathLength. */
export interface NativePathSplit {
  pathLength?: F64;
  straightness?: F64;
  uniformity?: F64;
}

export interface NativeThermoSeries {
  times: F64;
  gradientFlow: { efficiency: F64; w2sq: F64; dissipation: F64; lossDrop: F64; loss: F64 } & NativePathSplit;
  langevin?: {
    efficiency: F64; w2sq: F64; entropyProduction: F64; heat: F64; systemEntropy: F64; rate: F64; loss: F64;
    totalEntropyProduction: number;
  } & NativePathSplit;
  discrete?: {
    displacement: F64; stepSum: F64; lossDrop: F64; loss: F64; efficiencyKinetic: F64; efficiencyLoss: F64; stable: boolean;
  };
}

/** Row-major times × size moments (mean only when J was given). */
export interface NativeTrajectory {
  mean?: F64;
  residual: F64;
  variance: F64;
  nullVariance: F64;
}

export interface NativeLinearDynamics {
  series: NativeThermoSeries;
  eigenvalues: F64;
  rank: number;
  hessian: F64;
  offsets: F64;
  nullDirections: number;
  nullOffsetSquared: number;
  lossMin: number;
  continuous: NativeTrajectory;
  gd?: NativeTrajectory;
}

/** The package root (where package.json and build/ live), found from this file's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'CMakeLists.txt'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

function load(): NativeBinding {
  // libgomp reads this when the addon loads it. Spinning threads (the default) waste the cores
  // when several jobs share a small machine (libuv runs up to 4 async jobs at once): sleeping
  // workers cost microseconds per parallel region and keep throughput under contention.
  process.env.OMP_WAIT_POLICY ??= 'passive';
  const req = createRequire(import.meta.url);
  const root = packageRoot();
  // An explicit SPEEDLIMITS_NATIVE_PATH is the only candidate: silently loading another build
  // would hide a mistake. Otherwise Release first (`bindings` would prefer a stale Debug build).
  const override = process.env.SPEEDLIMITS_NATIVE_PATH;
  const candidates: string[] = override
    ? [resolve(override)]
    : [join(root, 'build', 'Release', 'speedlimits_native.node'), join(root, 'build', 'Debug', 'speedlimits_native.node')];
  const failures: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`  ${path}: not found`);
      continue;
    }
    try {
      return req(path) as NativeBinding;
    } catch (e) {
      failures.push(`  ${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!override) {
    try {
      const bindings = req('bindings') as (opts: { bindings: string; module_root: string }) => unknown;
      return bindings({ bindings: 'speedlimits_native', module_root: root }) as NativeBinding;
    } catch (e) {
      failures.push(`  bindings('speedlimits_native'): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new SpeedlimitsError(
    'ERR_NATIVE_LOAD',
    [
      'speedlimits: could not load the native addon. Tried:',
      ...failures,
      'Fix: build it with `npm run build:native` in the package directory (needs cmake >= 3.18 and a C++17 compiler;',
      'optional OpenBLAS: `sudo apt-get install libopenblas-dev liblapacke-dev pkg-config`),',
      'or point SPEEDLIMITS_NATIVE_PATH at a built speedlimits_native.node. See docs/build.md.',
    ].join('\n'),
    { tried: candidates },
  );
}

let cached: NativeBinding | undefined;

/** The loaded addon (loaded on first use, so importing the package never throws). */
export function native(): NativeBinding {
  if (cached === undefined) {
    cached = load();
    cached.setErrorClass(SpeedlimitsError as unknown as new (code: string, message: string) => Error);
  }
  return cached;
}
