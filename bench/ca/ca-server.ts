// The CA under benchmark, in its own process (forked with IPC): the control plane's CA on a TLS gRPC server on
// 127.0.0.1:0. Sends {port, roots} when ready; answers 'cpu' with its CPU time so far; exits on 'stop'.
// Mode `echo` serves the same method with the same TLS credentials but answers a fixed chain without
// authenticating or signing: the floor that gRPC and TLS alone cost.
import * as grpc from '@grpc/grpc-js';
import { IstioCertificateService } from '../../src/ca/proto/service.ts';
import { startCaForControlPlane } from '../../src/ca/server/index.ts';

const [stateDir, keyType, mode] = process.argv.slice(2);
if (!stateDir || !process.send) throw new Error('fork me with IPC: ca-server.ts STATE_DIR [ecdsa-p256|rsa-2048] [ca|echo]');
const cp = await startCaForControlPlane({ stateDir, keyType: keyType === 'rsa-2048' ? 'rsa-2048' : 'ecdsa-p256' });
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
let served = 0;
if (mode === 'echo') {
  const chain = [cp.servingCertificate().certChainPem, cp.ca.trustBundlePem()];
  server.addService(IstioCertificateService.service, {
    CreateCertificate: (_call: unknown, cb: grpc.sendUnaryData<{ cert_chain: string[] }>) => {
      served++;
      cb(null, { cert_chain: chain });
    },
  });
} else {
  cp.register(server);
}
const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', cp.tlsServerCredentials(), (e, p) => (e ? reject(e) : resolve(p))));
process.send({ port, roots: cp.ca.trustBundlePem() });
process.on('message', (m) => {
  if (m === 'cpu') {
    const c = process.cpuUsage();
    process.send!({ cpuMicros: c.user + c.system, served: mode === 'echo' ? served : cp.stats().issued });
  } else if (m === 'stop') {
    server.tryShutdown(() => void cp.close().then(() => process.exit(0)));
  }
});
process.on('disconnect', () => process.exit(0));
