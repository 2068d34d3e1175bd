/**
 * speedlimits — how close does neural-network training come to the thermodynamic speed limit?
 *
 * The public API. Heavy work runs in the native core; this layer validates, shapes and presents.
 */
export { SpeedlimitsError, AbortError, type ErrorCode } from './errors.js';
export type { LongRunOptions } from './long.js';
export { buildInfo, setThreads, getThreads, backends, type BuildInfo, type BackendInfo } from './info.js';
export { cudaAvailable, type Backend } from './backend.js';
export { matrix, zeros, identity, fromRows, toRows, transpose, get, isMatrix, checkMatrix, type Matrix } from './matrix.js';
export * as linalg from './linalg.js';
export * as random from './random.js';
export {
  parseNpy, encodeNpy, readNpy, readNpySync, writeNpy, writeNpySync, npyToMatrix,
  type NpyArray, type NpyData, type NpyDtype, type NpyInput,
} from './npy.js';
export {
  costMatrix, costMatrixSync, sinkhorn, sinkhornSync, sinkhornSymmetric, sinkhornDivergence,
  w2Gaussian, w2GaussianSync, w2GaussianSamples, w2GaussianSamplesSync, w2Exact1D, w2Exact1DSync, emd, emdSync,
  type CostMatrixOptions, type SinkhornOptions, type SinkhornResult, type EpsilonScaling,
  type SinkhornDivergenceOptions, type SinkhornDivergenceResult, type GaussianW2Result,
  type GaussianSamplesOptions, type SparsePlan, type ExactTransportResult, type EmdOptions, type EmdResult,
} from './transport.js';
export {
  createNetwork, Network, normalizeSpec, ACTIVATIONS,
  type NetSpec, type FcnSpec, type CnnSpec, type Activation, type Parameterization, type TensorInfo,
} from './nets.js';
export {
  ntk, ntkSync, ntkAnalytic, ntkAnalyticSync, spectrum, spectrumSync, powerLawFit, fitExponents,
  type NtkOptions, type AnalyticKernels, type Spectrum, type PowerLawFit, type SpectralExponents,
} from './ntk.js';
export {
  train, trainSync, mergeHistories, geometricSteps, TrainAbortError, TRAIN_METHODS,
  type TrainMethod, type TrainData, type TrainInit, type TrainOptions, type TrainHistory, type ReplicaSeries, type MeanSeries,
} from './dynamics.js';
export {
  analyticEfficiency, linearDynamics, powerLawPlateau, regimeBoundaries,
  type AnalyticEfficiencyOptions, type SpeedLimitSeries, type GradientFlowSeries, type LangevinSeries, type DiscreteSeries,
  type PowerLawPlateau, type RegimeBoundaries, type LinearDynamicsOptions, type LinearDynamicsResult, type LinearTrajectory,
} from './speedlimit.js';
export {
  measuredEfficiency, locateRegimes, type MeasuredEfficiency, type Regimes, type RegimeSpan,
} from './measured.js';
export { syntheticPowerLawTask, type SyntheticTask, type SyntheticTaskOptions } from './synthetic.js';
export { study, findings, type StudyOptions, type StudyResult, type StudyData } from './study.js';
export {
  linePlot, renderReport, toCsv, writeReportFiles, formatNumber, escapeXml,
  type LinePlotOptions, type PlotSeries, type PlotAnnotation, type AxisScale, type SeriesStyle,
  type ReportOptions, type ReportSection, type ReportTable, type CsvOptions,
} from './report/index.js';
export { studyReportFiles, studyHtml, studyJson, studySeries } from './report/study-report.js';
export {
  readIdx, parseIdx, encodeIdx, findFashionMnistDir, loadFashionMnist, loadCifar10,
  selectClasses, standardize, labelsToTargets,
  FASHION_MNIST_CLASSES, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES, IDX_TYPE_CODES,
  type IdxArray, type IdxData, type IdxType, type FashionMnistOptions, type Cifar10Options,
  type LabeledImages, type SelectOptions, type StandardizeOptions,
} from './data/index.js';
export {
  fluctuationTheorems, trajectoryEntropy,
  type FluctuationOptions, type FluctuationResult, type TrajectoryEntropyOptions,
} from './fluctuation.js';
export {
  ness, samplerMoments, SAMPLERS, gradientNoiseCovariance, stationaryEntropyProduction, stationaryEntropyProductionSync,
  type GradientNoiseOptions, type GaussianChainOptions, type SgldChainOptions, type StationaryEntropyProduction,
  type NessOptions, type NessResult, type Sampler, type SamplerMomentsOptions, type SamplerMoments,
} from './ness.js';
export {
  deepLinear, deepLinearSync, deepLinearCK, deepLinearCKEmpirical, deepLinearCKEmpiricalSync, deepLinearInit, deepLinearNumParams,
  DEEP_LINEAR_TRAININGS,
  type DeepLinearOptions, type DeepLinearResult, type DeepLinearArchitecture, type DeepLinearData, type DeepLinearSeedSeries,
  type DeepLinearLazy, type DeepLinearCKOptions, type DeepLinearCKEstimate, type DeepLinearWeights,
  type DeepLinearParameterization, type DeepLinearTraining, type DeepLinearSpectrum,
} from './deeplinear.js';
export {
  deepLinearStudy,
  type DeepLinearStudyOptions, type DeepLinearStudyResult, type DeepLinearCurve,
} from './deeplinear-study.js';
export { deepLinearStudyReportFiles, deepLinearStudySeries } from './report/deeplinear-report.js';
export { bayesianNetSamplers, type BayesianNetSamplerOptions, type BayesianNetSamplerResult } from './samplers-bnn.js';
