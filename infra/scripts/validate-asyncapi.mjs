// Validates events/asyncapi.yaml (and the JSON Schemas it references) with the AsyncAPI
// parser: `make lint` runs it. Warnings are printed; an error fails.
import { createRequire } from 'node:module';
import path from 'node:path';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const require = createRequire(path.join(repo, '.local/npm/package.json'));
const { Parser, fromFile } = require('@asyncapi/parser');

const file = process.argv[2] ?? path.join(repo, 'events/asyncapi.yaml');
const { document, diagnostics } = await fromFile(new Parser(), file).parse();
// Severity 0 is an error; 1–3 are warnings, information and hints.
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  console.log(`${d.severity === 0 ? 'error' : 'note'}: ${d.code}: ${d.message} at ${d.path.join('.')}`);
}
if (!document || errors.length) {
  console.error(`${path.relative(repo, file)}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`${path.relative(repo, file)}: valid AsyncAPI ${document.version()}`);
