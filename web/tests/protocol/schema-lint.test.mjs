// graphql-schema-linter's description rules over the committed schema.graphql (which a Rust
// test keeps equal to the live schema): every type, field, argument, enum value and input
// value is described, since GraphiQL's docs pane is the API reference.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { test } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '../..');
const RULES = [
  'types-have-descriptions',
  'fields-have-descriptions',
  'arguments-have-descriptions',
  'enum-values-have-descriptions',
  'input-object-values-have-descriptions',
];

test('every schema element has a description (graphql-schema-linter)', () => {
  let output;
  try {
    output = execFileSync(
      path.join(web, 'node_modules/.bin/graphql-schema-linter'),
      ['--format', 'json', '--rules', RULES.join(','), path.join(web, '../schema.graphql')],
      { encoding: 'utf8' },
    );
  } catch (e) {
    // Non-zero exit: errors were found; the report is still on stdout.
    output = e.stdout;
  }
  const report = JSON.parse(output);
  const errors = report.errors.map((e) => `${e.rule}: ${e.message}`);
  assert.deepEqual(errors, [], `${errors.length} schema elements without a description`);
});
