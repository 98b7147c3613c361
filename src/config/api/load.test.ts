import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPaths, loadText } from './load.ts';

const VS = (name: string, extra = ''): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n${extra}spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host: reviews\n`;

test('multi-document YAML: one result per document, empty documents skipped, lines kept', () => {
  const text = `# leading comment\n${VS('a')}---\n# only a comment\n---\n---\n${VS('b', '  namespace: shop\n')}`;
  const rs = loadText(text, 'routes.yaml');
  assert.equal(rs.length, 2);
  assert.deepEqual(rs.map((r) => [r.key.name, r.key.namespace, r.origin.document, r.origin.line]), [
    ['a', 'default', 0, 2],
    ['b', 'shop', 3, 16],
  ]);
  assert.ok(rs.every((r) => r.valid && r.origin.file === 'routes.yaml'));
  assert.equal(rs[0]?.resource.metadata.namespace, 'default', 'namespace defaults to default');
});

test('JSON documents load like YAML', () => {
  const json = JSON.stringify({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p', namespace: 'x' }, spec: { mtls: { mode: 'STRICT' } } });
  const [r] = loadText(json, 'pa.json');
  assert.equal(r?.valid, true);
  assert.deepEqual(r?.key, { kind: 'PeerAuthentication', namespace: 'x', name: 'p' });
});

test('kind: List and typed lists yield one result per item, typed-list items inherit kind and apiVersion', () => {
  const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: shop\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: web\n    namespace: shop\n`;
  const rs = loadText(list, 'l.yaml');
  assert.deepEqual(rs.map((r) => `${r.key.kind}/${r.key.namespace}/${r.key.name}@${r.origin.line}`), ['Namespace//shop@4', 'ServiceAccount/shop/web@8']);
  const typed = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nitems:\n- metadata: {name: deny-all}\n  spec: {}\n`;
  const [t] = loadText(typed, 't.yaml');
  assert.equal(t?.valid, true, JSON.stringify(t?.errors));
  assert.equal(t?.key.kind, 'AuthorizationPolicy');
  assert.equal(t?.apiVersion, 'security.istio.io/v1');
  assert.deepEqual(loadText('apiVersion: v1\nkind: List\nitems: []\n', 'e.yaml'), []);
});

test('a YAML syntax error is one invalid result with line and column; other documents still load', () => {
  const rs = loadText(`${VS('ok')}---\nkind: X\n  bad: indent\n`, 'broken.yaml');
  assert.equal(rs.length, 2);
  assert.equal(rs[0]?.valid, true);
  const bad = rs[1];
  assert.equal(bad?.valid, false);
  assert.equal(bad?.support, 'unparsed');
  assert.match(bad?.errors[0]?.message ?? '', /^YAML syntax error: .* at line 12, column 7 \(a line is indented more than the fields above it, or a value that contains ": " needs quotes\)$/);
  const dup = loadText('a: 1\na: 2\n', 'dup.yaml');
  assert.match(dup[0]?.errors[0]?.message ?? '', /Map keys must be unique/);
  const alias = loadText('a: *nope\n', 'alias.yaml');
  assert.equal(alias[0]?.valid, false);
});

test('a document that is not an object is invalid', () => {
  const [r] = loadText('- a\n- b\n', 'list.yaml');
  assert.equal(r?.valid, false);
  assert.match(r?.errors[0]?.message ?? '', /is a list, not an object/);
});

test('loadPaths walks directories recursively in sorted order, reads named files whatever their suffix, and reports I/O errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-load-'));
  try {
    await mkdir(join(dir, 'cfg', 'sub'), { recursive: true });
    await writeFile(join(dir, 'cfg', 'b.yaml'), VS('b'));
    await writeFile(join(dir, 'cfg', 'a.yml'), VS('a'));
    await writeFile(join(dir, 'cfg', 'sub', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }));
    await writeFile(join(dir, 'cfg', 'notes.txt'), 'not config');
    await writeFile(join(dir, 'named.conf'), VS('named'));
    await mkdir(join(dir, 'cfg', '.github'));
    await writeFile(join(dir, 'cfg', '.github', 'ci.yaml'), 'on: push\n');
    await writeFile(join(dir, 'cfg', '.hidden.yaml'), 'x: 1\n');
    await symlink(join(dir, 'cfg'), join(dir, 'cfg', 'sub', 'loop'));
    const { results, ioErrors, files } = await loadPaths(['cfg', 'named.conf', 'missing.yaml', '-'], undefined, { cwd: dir, stdin: VS('stdin') });
    assert.deepEqual(files, ['cfg/a.yml', 'cfg/b.yaml', 'cfg/sub/c.json', 'named.conf', '-']);
    assert.deepEqual(results.map((r) => r.key.name), ['a', 'b', 'c', 'named', 'stdin']);
    assert.deepEqual(ioErrors, [{ file: 'missing.yaml', message: 'no such file or directory' }]);
    const noStdin = await loadPaths(['-'], undefined, { cwd: dir });
    assert.equal(noStdin.ioErrors.length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
