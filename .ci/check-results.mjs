// Fails CI when the test run skipped or left out a test, and prints the plain closing line
// ("N passed, N failed, N skipped") that CI reads.
import { readFileSync } from 'node:fs';

const [file, label = 'tests'] = process.argv.slice(2);
const results = JSON.parse(readFileSync(file, 'utf8'));
const skipped = results.numPendingTests + results.numTodoTests;
console.log(`${label}: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
if (results.numTotalTests === 0) {
  console.error('ci: no test ran');
  process.exit(1);
}
if (skipped > 0) {
  const names = results.testResults
    .flatMap((file) => file.assertionResults)
    .filter((t) => t.status === 'pending' || t.status === 'skipped' || t.status === 'todo')
    .map((t) => `  - ${t.fullName}`);
  console.error(`ci: ${skipped} test(s) were skipped, every test is required here:\n${names.join('\n')}`);
  process.exit(1);
}
if (results.numFailedTests > 0 || !results.success) process.exit(1);
