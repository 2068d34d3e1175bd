/**
 * Allocation of large results. On Linux the first touch of fresh memory costs a page fault per
 * 4 KiB — on this project's VMs ≈ 0.5–1 ms per MB, as much as computing a cost matrix or drawing
 * normals. Arrays of at least 4 MiB are therefore backed by transparent huge pages (one fault per
 * 2 MiB) by advising the kernel before anything touches them, as NumPy does for its arrays.
 * The advice never changes contents, and is a no-op where huge pages are unavailable.
 */
import { native } from './native.js';

type Large = Float64Array | Float32Array | Uint32Array;
type LargeCtor = Float64ArrayConstructor | Float32ArrayConstructor | Uint32ArrayConstructor;

/** Below this many bytes no advice is given (= memory::kHugePageMin in native/core/memory.hpp). */
export const HUGE_PAGE_MIN = 4 << 20;

function advise(a: Large): Large {
  if (a.byteLength >= HUGE_PAGE_MIN) native().adviseHugePages(a);
  return a;
}

/**
 * A zero-filled array for a large result that the core is about to write.
 * @example const C = resultArray(Float64Array, n * m);
 */
export function resultArray(Ctor: Float64ArrayConstructor, length: number): Float64Array;
export function resultArray(Ctor: Float32ArrayConstructor, length: number): Float32Array;
export function resultArray(Ctor: Uint32ArrayConstructor, length: number): Uint32Array;
export function resultArray(Ctor: Float64ArrayConstructor | Float32ArrayConstructor, length: number): Float64Array | Float32Array;
export function resultArray(Ctor: LargeCtor, length: number): Large {
  return advise(new Ctor(length));
}

/**
 * An uninitialised array, for results whose every entry the core overwrites: skips the zero-fill
 * of `new Float64Array(n)` (an extra pass over memory). A fresh, unpooled buffer with byteOffset 0,
 * so aligned for any element type.
 * @example const z = uninitializedArray(Float64Array, 1e7); // then filled by the core
 */
export function uninitializedArray(Ctor: Float64ArrayConstructor, length: number): Float64Array;
export function uninitializedArray(Ctor: Uint32ArrayConstructor, length: number): Uint32Array;
export function uninitializedArray(Ctor: LargeCtor, length: number): Large {
  const buf = Buffer.allocUnsafeSlow(length * Ctor.BYTES_PER_ELEMENT);
  return advise(new Ctor(buf.buffer as ArrayBuffer, buf.byteOffset, length));
}
