// YAML syntax errors as people read them: the parser's words with line and column, then what to check, for the
// mistakes made most often in Kubernetes YAML (tabs, duplicate keys, unclosed [ { or quotes, indentation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from './load.ts';

const message = (text: string): string => loadText(text, 'f.yaml')[0]?.errors[0]?.message ?? '';

test('each common YAML mistake gets its line, column and what to check', () => {
  assert.equal(message('metadata:\n\tname: x\n'), 'YAML syntax error: Tabs are not allowed as indentation at line 2, column 1 (indent with spaces: YAML does not allow tabs)');
  assert.equal(message('metadata:\n  name: x\n  name: y\n'), 'YAML syntax error: Map keys must be unique at line 3, column 3 (a key appears twice in one mapping: keep one)');
  assert.equal(
    message('spec:\n  hosts: [reviews\n  http: []\n'),
    'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 3 (a [ or { above is not closed on its line, or its continuation is not indented more than its key)',
  );
  assert.equal(message('spec:\n  hosts: ["reviews]\n'), 'YAML syntax error: Missing closing "quote at line 3, column 1 (a quoted string is not closed)');
  assert.equal(
    message('spec:\n  hosts:\n  - a\n   http: []\n'),
    'YAML syntax error: Implicit keys need to be on a single line at line 3, column 5 (check the indentation of this line and the one above: fields of one object line up, "- " list items sit under their key)',
  );
  assert.equal(message('spec:\n  match: uri: /x\n'), 'YAML syntax error: Nested mappings are not allowed in compact mappings at line 2, column 10 (a line is indented more than the fields above it, or a value that contains ": " needs quotes)');
});
