import { describe, expect, it } from 'vitest';
import { checkMatrix, fromRows, get, identity, isMatrix, matrix, toRows, transpose, zeros } from '../src/index.js';

describe('Matrix helpers', () => {
  it('construct, read and transpose', () => {
    const m = fromRows([[1, 2, 3], [4, 5, 6]]);
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(3);
    expect(get(m, 1, 2)).toBe(6);
    expect(toRows(transpose(m))).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(toRows(identity(2))).toEqual([[1, 0], [0, 1]]);
    expect(zeros(2, 3).data).toEqual(new Float64Array(6));
    const f32 = matrix(1, 2, new Float32Array([1, 2]));
    expect(transpose(f32).data).toBeInstanceOf(Float32Array);
    expect(fromRows([]).rows).toBe(0);
    expect(isMatrix(m)).toBe(true);
    expect(isMatrix({ data: new Float64Array(3), rows: 2, cols: 2 })).toBe(false);
    expect(isMatrix(null)).toBe(false);
  });

  it('accepts subarray views without copying', () => {
    const buf = new Float64Array(10).map((_, i) => i);
    const m = matrix(2, 2, buf.subarray(3, 7));
    expect(m.data.buffer).toBe(buf.buffer);
    expect(toRows(m)).toEqual([[3, 4], [5, 6]]);
  });

  it('rejects bad input naming the argument', () => {
    expect(() => matrix(-1, 2)).toThrow(/matrix: rows must be an integer/);
    expect(() => matrix(2, 1.5)).toThrow(/matrix: cols/);
    expect(() => matrix(2, 2, [1, 2, 3, 4] as unknown as Float64Array)).toThrow(/matrix: data must be a Float64Array or Float32Array/);
    expect(() => matrix(2, 2, new Float64Array(3))).toThrow(/data has 3 entries but a 2x2 matrix needs 4/);
    expect(() => fromRows([[1, 2], [3]])).toThrow(/fromRows: rows\[1\] has 1 entries, expected 2/);
    expect(() => fromRows([[1, 'a' as unknown as number]])).toThrow(TypeError);
    expect(() => fromRows('x' as unknown as number[][])).toThrow(TypeError);
    expect(() => get(identity(2), 2, 0)).toThrow(/get: i must be an integer in \[0, 1\]/);
    expect(() => toRows({ data: new Float64Array(1), rows: 2, cols: 2 })).toThrow(RangeError);
    expect(() => transpose(undefined as never)).toThrow(TypeError);
    expect(() => checkMatrix('f', 'X', identity(2), { rows: 3 })).toThrow(/f: X must have 3 rows, got 2/);
    expect(() => checkMatrix('f', 'X', identity(2), { dtype: 'float32' })).toThrow(/f: X\.data must be a Float32Array/);
    expect(() => checkMatrix('f', 'X', fromRows([[1, NaN]]), { finite: true })).toThrow(/NaN at \(0, 1\)/);
  });
});

describe('finiteness checks of large arrays (scanned in the core)', () => {
  it('name the first NaN/±Inf exactly as the JS loop would, for Float64 and Float32, at any position', async () => {
    const { firstNonFinite } = await import('../src/validate.js');
    for (const Ctor of [Float64Array, Float32Array]) {
      const n = 300_001;
      const x = new Ctor(n).fill(0.5);
      expect(firstNonFinite(x)).toBe(-1);
      for (const [pos, v] of [[0, NaN], [4096, Infinity], [123_457, -Infinity], [n - 1, NaN]] as const) {
        const y = Ctor.from(x);
        y[pos] = v;
        if (pos + 3 < n) y[pos + 3] = NaN;
        expect(firstNonFinite(y)).toBe(pos);
      }
    }
    const big = { data: new Float64Array(1000 * 100).fill(1), rows: 1000, cols: 100 };
    big.data[54_321] = NaN;
    expect(() => checkMatrix('f', 'X', big, { finite: true })).toThrow('f: X must contain only finite values, got NaN at (543, 21)');
  });

  it('a network rejects a non-finite parameter deep in a large vector, naming its index', async () => {
    const { createNetwork } = await import('../src/index.js');
    const net = createNetwork({ type: 'fcn', inputDim: 256, widths: [256], outputDim: 1, activation: 'relu' });
    const theta = net.init({ seed: 1 });
    theta[60_000] = Infinity;
    const x = { data: new Float64Array(2 * 256), rows: 2, cols: 256 };
    expect(() => net.forward(theta, x)).toThrow('Network.forward: params must contain only finite values, got Infinity at index 60000');
  });
});
