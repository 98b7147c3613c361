// Plug-in CA: an operator's root and intermediate, made with the openssl CLI, sign workload certificates and the
// full chain comes back; inconsistent directories fail at start with a message naming the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createKeyAndCsr } from '../../agent/identity/csr.ts';
import { WeftError } from '../../core/errors.ts';
import { createCertificate, openssl, startTestCa, tempDir } from '../testing/harness.ts';
import { mintBootstrapToken } from './auth/token.ts';
import { loadPluginCa } from './plugin.ts';
import { run } from '../../cli/commands/ca.ts';
import { memoryIo } from '../../cli/io.ts';
import { requireTokenKeys } from './store.ts';

const tmp = tempDir();
const plugin = join(tmp.dir, 'cacerts');

/** Root → intermediate with openssl, laid out as Istio's cacerts: ca-cert, ca-key, cert-chain, root-cert. */
async function makePluginCa(): Promise<void> {
  mkdirSync(plugin);
  const o = (args: string[]): Promise<string> => openssl(args, plugin);
  writeFileSync(join(plugin, 'ca.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '3650', '-subj', '/O=Example Corp/CN=Example Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Example Corp/CN=Intermediate CA cluster-1']);
  await o(['x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-out', 'ca-cert.pem', '-days', '730', '-extfile', 'ca.ext']);
  writeFileSync(join(plugin, 'cert-chain.pem'), readFileSync(join(plugin, 'ca-cert.pem'), 'utf8') + readFileSync(join(plugin, 'root-cert.pem'), 'utf8'));
}

before(makePluginCa);
after(() => tmp.remove());

test('a plug-in CA signs with its intermediate and returns the full chain: leaf, intermediate, root', async () => {
  const ca = await startTestCa({ stateDir: join(tmp.dir, 'state'), pluginCaDir: plugin });
  try {
    const root = readFileSync(join(plugin, 'root-cert.pem'), 'utf8');
    const token = await mintBootstrapToken({ keys: requireTokenKeys(join(tmp.dir, 'state')), identity: { namespace: 'shop', serviceAccount: 'cart' }, ttlSeconds: 60 });
    const r = await createCertificate({ address: ca.address, rootsPem: root, csrPem: (await createKeyAndCsr('ecdsa-p256', 'spiffe://cluster.local/ns/shop/sa/cart')).csrPem, token });
    assert.ok(r.ok, r.ok ? '' : r.error.details);
    const chain = r.value.cert_chain;
    assert.equal(chain.length, 3);
    assert.ok(new X509Certificate(chain[1]!).raw.equals(new X509Certificate(readFileSync(join(plugin, 'ca-cert.pem'))).raw), 'the intermediate follows the leaf');
    assert.ok(new X509Certificate(chain[2]!).raw.equals(new X509Certificate(root).raw), 'the root comes last');
    writeFileSync(join(tmp.dir, 'leaf.pem'), chain[0]!);
    writeFileSync(join(tmp.dir, 'chain.pem'), chain.slice(1, -1).join(''));
    writeFileSync(join(tmp.dir, 'root.pem'), chain[2]!);
    assert.match(await openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'leaf.pem'], tmp.dir), /leaf\.pem: OK/);
    // Without the intermediate the leaf does not verify: the chain really is needed.
    await assert.rejects(openssl(['verify', '-CAfile', 'root.pem', 'leaf.pem'], tmp.dir));
    assert.match(await openssl(['x509', '-in', 'leaf.pem', '-noout', '-text'], tmp.dir), /Issuer: O = Example Corp, CN = Intermediate CA cluster-1[\s\S]*URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    // The serving certificate on 15012 comes from the same intermediate.
    assert.equal(new X509Certificate(ca.cp.servingCertificate().certChainPem).issuer, new X509Certificate(chain[1]!).subject);
  } finally {
    await ca.close();
  }
});

test('a plug-in directory whose key does not match ca-cert.pem is refused, naming the files', async () => {
  const bad = join(tmp.dir, 'bad');
  mkdirSync(bad);
  for (const f of ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem']) copyFileSync(join(plugin, f), join(bad, f));
  copyFileSync(join(plugin, 'root-key.pem'), join(bad, 'ca-key.pem'));
  assert.throws(() => loadPluginCa(bad), (e: unknown) => e instanceof WeftError && e.code === 'WEFT_ERR_CA' && /ca-key\.pem is not the private key of ca-cert\.pem/.test(e.message));
  const missing = join(tmp.dir, 'missing');
  mkdirSync(missing);
  assert.throws(() => loadPluginCa(missing), /cannot read .*ca-cert\.pem/);
});

test('weft ca root and inspect read a plug-in CA directory', async () => {
  const io = memoryIo();
  assert.equal(await run(['root', '--plugin-ca-dir', plugin], io), 0);
  assert.ok(new X509Certificate(io.stdout()).raw.equals(new X509Certificate(readFileSync(join(plugin, 'root-cert.pem'))).raw));
  const io2 = memoryIo();
  assert.equal(await run(['inspect', '--plugin-ca-dir', plugin, '-o', 'json'], io2), 0);
  const d = JSON.parse(io2.stdout()) as { signing: { subject: string; isCa: boolean }; chain: unknown[]; trustedRoots: Array<{ subject: string }> };
  assert.equal(d.signing.subject, 'O=Example Corp, CN=Intermediate CA cluster-1');
  assert.equal(d.chain.length, 1);
  assert.equal(d.trustedRoots[0]!.subject, 'O=Example Corp, CN=Example Root CA');
});

test('a running CA follows replaced plug-in files: the new intermediate signs', async () => {
  const dir = join(tmp.dir, 'live');
  mkdirSync(dir);
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) copyFileSync(join(plugin, f), join(dir, f));
  const ca = await startTestCa({ stateDir: join(tmp.dir, 'state-live'), pluginCaDir: dir, pollIntervalMs: 50 });
  try {
    // A second intermediate from the same root, written next to the files and moved into place as an operator would.
    const o = (args: string[]): Promise<string> => openssl(args, plugin);
    await o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca2-key.pem', '-out', 'ca2.csr', '-subj', '/O=Example Corp/CN=Intermediate CA cluster-1 v2']);
    await o(['x509', '-req', '-in', 'ca2.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-out', 'ca2-cert.pem', '-days', '730', '-extfile', 'ca.ext']);
    const updated = once(ca.cp.ca, 'updated');
    copyFileSync(join(plugin, 'ca2-key.pem'), join(dir, 'ca-key.pem'));
    copyFileSync(join(plugin, 'ca2-cert.pem'), join(dir, 'ca-cert.pem'));
    writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(plugin, 'ca2-cert.pem'), 'utf8'));
    await updated;
    assert.match(ca.cp.ca.describe(), /Intermediate CA cluster-1 v2/);
    const root = readFileSync(join(plugin, 'root-cert.pem'), 'utf8');
    const token = await mintBootstrapToken({ keys: requireTokenKeys(join(tmp.dir, 'state-live')), identity: { namespace: 'shop', serviceAccount: 'cart' }, ttlSeconds: 60 });
    const r = await createCertificate({ address: ca.address, rootsPem: root, csrPem: (await createKeyAndCsr('ecdsa-p256', undefined)).csrPem, token });
    assert.ok(r.ok, r.ok ? '' : r.error.details);
    assert.equal(new X509Certificate(r.value.cert_chain[0]!).issuer, 'O=Example Corp\nCN=Intermediate CA cluster-1 v2');
  } finally {
    await ca.close();
  }
});
