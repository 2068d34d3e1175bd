import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { backends, buildInfo, getThreads, setThreads } from '../src/index.js';

const hasOpenBlas = spawnSync('pkg-config', ['--exists', 'openblas', 'lapacke']).status === 0;

describe('buildInfo', () => {
  const info = buildInfo();
  it('reports every documented field with the right type', () => {
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof info.blas).toBe('string');
    expect(typeof info.lapack).toBe('string');
    expect(typeof info.openmp).toBe('boolean');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cudaCompiled).toBe('boolean');
    expect(Number.isInteger(info.cudaDevices)).toBe(true);
    expect(info.napiVersion).toBe(8);
    expect(info.nodeVersion).toBe(process.versions.node);
  });

  it('reports the BLAS backend the build was asked for', () => {
    const requested = (process.env.SPEEDLIMITS_BLAS ?? 'AUTO').toUpperCase();
    if (requested === 'OFF') {
      expect(info.blasCompiled).toBe(false);
      expect(info.blas).toBe('builtin');
      expect(info.lapack).toBe('builtin');
    } else if (hasOpenBlas) {
      expect(info.blasCompiled).toBe(true);
      expect(info.blas).toBe('OpenBLAS');
      expect(info.lapack).toBe('LAPACKE');
    } else {
      expect(info.blas).toBe('builtin');
    }
  });

  it('lists the cpu and cuda backends consistently with buildInfo', () => {
    const b = backends();
    expect(b.map((x) => x.name)).toEqual(['cpu', 'cuda']);
    expect(b[0].available).toBe(true);
    expect(b[1].compiled).toBe(info.cudaCompiled);
    expect(b[1].available).toBe(info.cudaCompiled && info.cudaDevices > 0);
  });
});

describe('setThreads / getThreads', () => {
  it('round-trips and is reported by buildInfo', () => {
    const before = getThreads();
    try {
      setThreads(1);
      expect(getThreads()).toBe(1);
      expect(buildInfo().threads).toBe(1);
      setThreads(3);
      expect(getThreads()).toBe(3);
    } finally {
      setThreads(before);
    }
  });
  it('rejects bad input naming the argument', () => {
    expect(() => setThreads(0)).toThrow(/setThreads: n must be an integer in \[1, 4096\], got 0/);
    expect(() => setThreads(-2)).toThrow(RangeError);
    expect(() => setThreads(1.5)).toThrow(RangeError);
    expect(() => setThreads(NaN)).toThrow(RangeError);
    expect(() => setThreads('2' as unknown as number)).toThrow(TypeError);
    expect(() => setThreads(undefined as unknown as number)).toThrow(/setThreads: n must be an integer/);
    expect(() => setThreads(1e9)).toThrow(RangeError);
  });
});
