// Adds up vitest's JSON reports and the CI steps into one closing line: "N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';

const [dir, ...checks] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')) : []) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  console.log(`${f.replace('.json', '')}: ${r.numPassedTests} passed, ${r.numFailedTests} failed (${r.numTotalTestSuites} suites)`);
  for (const suite of r.testResults) {
    for (const t of suite.assertionResults) {
      if (t.status !== 'failed') continue;
      console.log(`  FAILED ${path.relative(process.cwd(), suite.name)} › ${t.fullName}`);
      // The first lines of the reason, so the end of the CI log says why (the full stack is higher up).
      const why = (t.failureMessages ?? []).join('\n').split('\n').filter((l) => l.trim()).slice(0, 6);
      for (const l of why) console.log(`      ${l.slice(0, 240)}`);
    }
    if (suite.status === 'failed' && suite.assertionResults.length === 0) {
      failed += 1; // a file that failed to load counts as a failure
      console.log(`  FAILED to load ${path.relative(process.cwd(), suite.name)}: ${suite.message}`);
    }
  }
}
const expectedReports = 2;
const reports = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')).length : 0;
if (reports < expectedReports) {
  console.log(`missing test reports: ${expectedReports - reports}`);
  failed += expectedReports - reports;
}
// Non-test steps (lint, typecheck, compose, smoke) count one each.
for (const c of checks) {
  const i = c.lastIndexOf(':');
  const name = c.slice(0, i);
  if (name.startsWith('tests')) {
    if (c.slice(i + 1) !== '0' && failed === 0) failed += 1; // runner failed without a failing test
    continue;
  }
  if (c.slice(i + 1) === '0') passed += 1;
  else {
    failed += 1;
    console.log(`  FAILED step: ${name}`);
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
