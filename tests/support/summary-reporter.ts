// Prints one machine-readable line at the end of a vitest run, and writes the counts to
// .vitest-summary.json so scripts/test.mjs can add them to the native test counts.
import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      let count = 0;
      for (const t of m.children.allTests()) {
        count++;
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      // A file that failed to import has no tests: count it as one failure.
      if (count === 0 && m.state() === 'failed') failed++;
    }
    writeFileSync('.vitest-summary.json', JSON.stringify({ passed, failed, skipped }));
    process.stdout.write(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
