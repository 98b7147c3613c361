// IST0118: a Service port whose name (or appProtocol) does not tell Istio its protocol; IST0150 for
// ExternalName services, whose ports must name their protocol.
import type { Analyzer } from '../context.ts';
import { GK, num, recs, str } from '../model.ts';
import { portProtocol } from '../util/protocol.ts';

const MANAGED = new Set(['istio.io-gateway-controller', 'istio.io-mesh-controller', 'istio.io-eastwest-controller']);

export const portName: Analyzer = {
  name: 'service.PortNameAnalyzer',
  description: 'Checks the port names associated with each service',
  analyze(ctx) {
    for (const svc of ctx.each(GK.Service)) {
      if ('istio' in svc.labels || svc.labels['release'] === 'istio') continue; // Istio's own control plane
      if (MANAGED.has(svc.labels['gateway.istio.io/managed'] ?? '')) continue;
      const external = str(svc.spec['type']) === 'ExternalName';
      for (const p of recs(svc.spec['ports'])) {
        const name = str(p['name']);
        const appProtocol = typeof p['appProtocol'] === 'string' ? p['appProtocol'] : undefined;
        const proto = portProtocol(num(p['port']) ?? 0, name, str(p['protocol']), appProtocol);
        if (proto !== 'UnsupportedProtocol' && !(name === 'tcp' && external)) continue;
        if (external) ctx.report('ExternalNameServiceTypeInvalidPortName', svc);
        else ctx.report('PortNameIsNotUnderNamingConvention', svc, name, num(p['port']) ?? 0, targetPortString(p['targetPort']));
      }
    }
  },
};

/** Kubernetes IntOrString printing: the number, the name, or 0 when absent. */
function targetPortString(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return '0';
}
