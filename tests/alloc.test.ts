import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HUGE_PAGE_MIN, resultArray, uninitializedArray } from '../src/alloc.js';
import { native } from '../src/native.js';

describe('large result arrays (huge-page advice)', () => {
  it('resultArray is zero-filled, of the asked type and length, below and above the advice threshold', () => {
    for (const length of [0, 10, HUGE_PAGE_MIN / 8 + 123]) {
      const a = resultArray(Float64Array, length);
      expect(a).toBeInstanceOf(Float64Array);
      expect(a.length).toBe(length);
      expect(a.every((v) => v === 0)).toBe(true);
      a.fill(2.5); // writable everywhere after the advice
      expect(a[length - 1] ?? 2.5).toBe(2.5);
    }
    expect(resultArray(Float32Array, HUGE_PAGE_MIN / 4 + 1)).toBeInstanceOf(Float32Array);
  });

  it('uninitializedArray has byteOffset 0 and its own buffer', () => {
    const a = uninitializedArray(Float64Array, HUGE_PAGE_MIN / 8 + 1);
    const b = uninitializedArray(Uint32Array, 7);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(a.byteLength);
    expect(b.byteOffset).toBe(0);
    expect(b.buffer.byteLength).toBe(28);
  });

  it('the advice never changes contents, and reports only what it did', () => {
    const a = new Float64Array(HUGE_PAGE_MIN / 8 + 999).map((_, i) => i * 0.5);
    const advised = native().adviseHugePages(a);
    expect(typeof advised).toBe('boolean');
    expect(a.every((v, i) => v === i * 0.5)).toBe(true);
    expect(native().adviseHugePages(new Float64Array(16))).toBe(false); // below 4 MiB: no advice
  });

  it('advises where the kernel offers transparent huge pages, and never with SPEEDLIMITS_MADVISE_HUGEPAGE=0', () => {
    let thp = '';
    try {
      thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    } catch {
      // not Linux, or no THP: the advice is never given
    }
    const available = /\[(always|madvise)\]/.test(thp);
    expect(native().adviseHugePages(new Float64Array(HUGE_PAGE_MIN / 8 + 1))).toBe(available && process.env.SPEEDLIMITS_MADVISE_HUGEPAGE !== '0');
    const script = `import { native } from './dist/native.js'; process.stdout.write(String(native().adviseHugePages(new Float64Array(${HUGE_PAGE_MIN / 8 + 1}))));`;
    const off = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, SPEEDLIMITS_MADVISE_HUGEPAGE: '0' }, encoding: 'utf8' });
    expect(off).toBe('false');
  });

  it('rejects anything but a typed array', () => {
    const adv = native().adviseHugePages as (x: unknown) => boolean;
    for (const bad of [undefined, null, 3, [1, 2], new ArrayBuffer(8), { length: 3 }])
      expect(() => adv(bad)).toThrow(TypeError);
  });
});
