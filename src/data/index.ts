/**
 * Dataset readers (no downloads): IDX files and Fashion-MNIST as Debian's dataset-fashion-mnist
 * package installs it, CIFAR-10 binary batches, and helpers to select classes, standardise
 * inputs and encode labels as targets.
 *
 * @module data
 */

export { readIdx, parseIdx, encodeIdx, findFashionMnistDir, loadFashionMnist, FASHION_MNIST_CLASSES, IDX_TYPE_CODES } from './idx.js';
export type { IdxArray, IdxData, IdxType, FashionMnistOptions } from './idx.js';
export { loadCifar10, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES } from './cifar.js';
export type { Cifar10Options } from './cifar.js';
export { selectClasses, standardize, labelsToTargets } from './prepare.js';
export type { LabeledImages, SelectOptions, StandardizeOptions } from './prepare.js';
