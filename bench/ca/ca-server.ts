// The CA under benchmark, in its own process (forked with IPC): the control plane's CA on a TLS gRPC server on
// 127.0.0.1:0. Sends {port, roots} when ready; answers 'cpu' with its CPU time so far; exits on 'stop'.
import { startTestCa } from '../../src/ca/testing/harness.ts';

const [stateDir, keyType] = process.argv.slice(2);
if (!stateDir || !process.send) throw new Error('fork me with IPC: ca-server.ts STATE_DIR [ecdsa-p256|rsa-2048]');
const channelz = process.argv[4] === 'channelz';
const ca = await startTestCa({ stateDir, keyType: keyType === 'rsa-2048' ? 'rsa-2048' : 'ecdsa-p256', serverOptions: channelz ? {} : { 'grpc.enable_channelz': 0 } });
process.send({ port: ca.port, roots: ca.cp.ca.trustBundlePem() });
process.on('message', (m) => {
  if (m === 'cpu') {
    const c = process.cpuUsage();
    process.send!({ cpuMicros: c.user + c.system, issued: ca.cp.stats().issued });
  } else if (m === 'stop') {
    void ca.close().then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
