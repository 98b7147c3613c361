// Golden transcript of `weft apply`, `weft get` and `weft delete` against a temporary config directory, in-process
// through main(), plus one run as a real process through bin/weft.js. Regenerate with WEFT_UPDATE_GOLDEN=1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { readEnv } from '../../core/env.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';
import { istioSamples } from '../../../test/samples.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../../../test/golden/store-cli/', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/weft.js', import.meta.url));
const SAMPLES = istioSamples.slice(0, -1);
const update = readEnv().updateGolden;

function golden(name: string, actual: string): void {
  const file = `${GOLDEN_DIR}${name}`;
  if (update) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name}; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  return out.sort();
}

describe('weft apply / get / delete', () => {
  let cwd: string;
  let transcript = '';
  const weft = async (args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> => {
    const io = memoryIo(stdin, cwd);
    const code = await main(args, io);
    const r = { code, out: io.stdout(), err: io.stderr() };
    const clean = (s: string): string => s.replaceAll(SAMPLES, '$SAMPLES').replaceAll(cwd, '$TMP');
    transcript += `$ weft ${args.map(clean).join(' ')}\n${clean(r.out)}${r.err === '' ? '' : `[stderr]\n${clean(r.err)}`}[exit ${code}]\n\n`;
    return r;
  };

  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'weft-cli-'));
  });
  after(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('apply creates, configures and reports unchanged, in a documented layout', async () => {
    let r = await weft(['apply', '-f', `${SAMPLES}/bookinfo/networking/bookinfo-gateway.yaml`, '-f', `${SAMPLES}/bookinfo/networking/destination-rule-all.yaml`, '-f', `${SAMPLES}/bookinfo/networking/virtual-service-all-v1.yaml`]);
    assert.equal(r.code, 0);
    r = await weft(['apply', '-f', `${SAMPLES}/bookinfo/networking/destination-rule-all.yaml`]);
    assert.match(r.out, /destinationrule.networking.istio.io\/reviews unchanged/);
    r = await weft(['apply', '-f', `${SAMPLES}/bookinfo/networking/virtual-service-reviews-80-20.yaml`]);
    assert.equal(r.out, 'virtualservice.networking.istio.io/reviews configured\n');
    transcript += `# files\n${(await listFiles(join(cwd, 'mesh'))).join('\n')}\n\n`;
    const reviews = await readFile(join(cwd, 'mesh', 'default', 'virtualservice-reviews.yaml'), 'utf8');
    transcript += `# mesh/default/virtualservice-reviews.yaml\n${reviews}\n`;
  });

  it('apply refuses invalid input with the messages and exit code of weft validate, writing nothing', async () => {
    const bad = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken}\nspec:\n  hosts: [broken]\n  http:\n  - route:\n    - destination: {host: broken}\n    websocketUpgrade: true\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: fine}\nspec: {host: fine}\n';
    const before = await listFiles(join(cwd, 'mesh'));
    const r = await weft(['apply', '-f', '-'], bad);
    assert.equal(r.code, 1);
    const io = memoryIo(bad, cwd);
    const vcode = await main(['validate', '-f', '-'], io);
    assert.equal(vcode, r.code);
    const validateLines = io.stdout().split('\n').filter((l) => l.startsWith('<stdin>'));
    assert.ok(validateLines.length > 0);
    for (const l of validateLines) assert.ok(r.err.includes(l), `apply should print "${l}"`);
    assert.deepEqual(await listFiles(join(cwd, 'mesh')), before);
  });

  it('apply -n puts resources without a namespace there, and refuses a conflicting one', async () => {
    const doc = 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: edge}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n';
    let r = await weft(['apply', '-n', 'edge', '-f', '-'], doc);
    assert.equal(r.code, 0);
    r = await weft(['apply', '-n', 'edge', '-f', '-'], doc.replace('{name: edge}', '{name: edge, namespace: other}'));
    assert.equal(r.code, 2);
    r = await weft(['apply', '-n', 'edge', '-f', '-'], doc.replace('{name: edge}', '{name: edge, namespace: default}'));
    assert.equal(r.code, 2, 'an explicit namespace: default conflicts with -n edge');
  });

  it('apply updates a resource in place inside a hand-written multi-document file', async () => {
    const file = join(cwd, 'mesh', 'team', 'routes.yaml');
    await mkdir(join(cwd, 'mesh', 'team'), { recursive: true });
    await writeFile(file, '# team routes, kept by hand\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: team}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n---\n# the b service\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b, namespace: team}\nspec:\n  hosts: [b]\n  http:\n  - route:\n    - destination: {host: b}\n');
    const r = await weft(['apply', '-f', '-'], 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b, namespace: team}\nspec:\n  hosts: [b]\n  http:\n  - timeout: 5s\n    route:\n    - destination: {host: b}\n');
    assert.equal(r.out, 'virtualservice.networking.istio.io/b configured\n');
    transcript += `# mesh/team/routes.yaml after apply\n${await readFile(file, 'utf8')}\n`;
    await weft(['delete', 'vs', 'a', '-n', 'team']);
    transcript += `# mesh/team/routes.yaml after delete of a\n${await readFile(file, 'utf8')}\n`;
    // A resource kept in a JSON file stays JSON.
    await writeFile(join(cwd, 'mesh', 'team', 'c.json'), JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'c', namespace: 'team' }, spec: { host: 'c' } }));
    await weft(['apply', '-f', '-'], 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: c, namespace: team}\nspec: {host: c.team.svc.cluster.local}\n');
    const json = JSON.parse(await readFile(join(cwd, 'mesh', 'team', 'c.json'), 'utf8')) as { spec: { host: string } };
    assert.equal(json.spec.host, 'c.team.svc.cluster.local');
  });

  it('get prints tables, YAML and JSON; unknown names exit 1, unknown kinds exit 2', async () => {
    assert.equal((await weft(['get', 'virtualservices'])).code, 0);
    assert.equal((await weft(['get', 'vs', '-A'])).code, 0);
    assert.equal((await weft(['get', 'DestinationRule', 'reviews', '-o', 'yaml'])).code, 0);
    assert.equal((await weft(['get', 'gw', '-n', 'edge', '-o', 'json'])).code, 0);
    assert.equal((await weft(['get', 'destinationrules.networking.istio.io', '-o', 'name'])).code, 0);
    assert.equal((await weft(['get', 'se'])).code, 0);
    assert.equal((await weft(['get', 'vs', 'nope'])).code, 1);
    assert.equal((await weft(['get', 'widgets'])).code, 2);
  });

  it('delete by name and by file; missing resources exit 1', async () => {
    assert.equal((await weft(['delete', 'vs', 'reviews', 'ratings'])).code, 0);
    assert.equal((await weft(['delete', '-f', `${SAMPLES}/bookinfo/networking/destination-rule-all.yaml`])).code, 0);
    assert.equal((await weft(['delete', 'vs', 'reviews'])).code, 1);
    assert.equal((await weft(['delete', 'vs', 'reviews', '--ignore-not-found'])).code, 0);
    await weft(['get', 'vs', '-A']);
    transcript += `# files\n${(await listFiles(join(cwd, 'mesh'))).join('\n')}\n`;
    golden('transcript.golden', transcript);
  });
});

describe('weft apply / get as a real process', () => {
  it('applies from a file and reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-proc-'));
    try {
      const run = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
        new Promise((resolve) => {
          execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 30_000 }, (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }));
        });
      const a = await run(['apply', '--config-dir', 'cfg', '-f', `${SAMPLES}/bookinfo/networking/virtual-service-all-v1.yaml`]);
      assert.equal(a.code, 0, a.err);
      assert.match(a.out, /^virtualservice.networking.istio.io\/productpage created$/m);
      const g = await run(['get', 'vs', 'reviews', '--config-dir', 'cfg']);
      assert.equal(g.code, 0, g.err);
      assert.match(g.out, /^NAME\s+GATEWAYS\s+HOSTS\nreviews\s+\["reviews"\]\n$/);
      const m = await run(['get', 'vs', 'missing', '--config-dir', 'cfg']);
      assert.equal(m.code, 1);
      assert.equal(m.err, 'Error from server (NotFound): virtualservices.networking.istio.io "missing" not found\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
