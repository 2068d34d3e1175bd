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
