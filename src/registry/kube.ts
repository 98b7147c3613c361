// Kubernetes Services with their Pods or EndpointSlices (read from the config directory in file mode) → services
// and endpoints. Hosts are `name.namespace.svc.<domainSuffix>`; a port's protocol comes from appProtocol or the
// port-name prefix, as Istio's protocol selection does.
import type { Resource } from '../config/api/resource.ts';
import { type Endpoint, type Service, type ServicePort, labelsMatch, parseProtocol, protocolFromPortName } from '../discovery/snapshot/model.ts';
import { TLS_MODE_LABEL } from './service-entry.ts';
import { type EndpointSliceBody, type KubePodSpec, type KubePodStatus, type KubeServicePort, type KubeServiceSpec, topLevel } from './specs.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';

function nsOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

function kubePort(p: KubeServicePort): ServicePort | undefined {
  if (p.protocol && p.protocol.toUpperCase() === 'UDP') return undefined;
  const protocol = p.appProtocol ? parseProtocol(p.appProtocol.replace(/^kubernetes\.io\//, '')) : protocolFromPortName(p.name);
  return { name: p.name ?? String(p.port), port: p.port, protocol };
}

function podReady(status: KubePodStatus | undefined): boolean {
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True';
  return status?.phase === undefined || status.phase === 'Running';
}

function podLocality(labels: Record<string, string>): string {
  const istio = labels['istio-locality'];
  if (istio) return istio.split('.').join('/');
  const region = labels['topology.kubernetes.io/region'] ?? '';
  const zone = labels['topology.kubernetes.io/zone'] ?? '';
  return region === '' && zone === '' ? '' : `${region}/${zone}`;
}

function podHasSidecar(pod: Resource): boolean {
  const labels = pod.metadata.labels ?? {};
  return labels[TLS_MODE_LABEL] === 'istio' || (pod.metadata.annotations ?? {})['sidecar.istio.io/status'] !== undefined;
}

function targetPortOn(pod: Resource<KubePodSpec> | undefined, sp: KubeServicePort): number {
  const tp = sp.targetPort;
  if (typeof tp === 'number') return tp;
  if (typeof tp === 'string' && /^\d+$/.test(tp)) return Number(tp);
  if (typeof tp === 'string' && pod) {
    for (const c of pod.spec?.containers ?? []) for (const cp of c.ports ?? []) if (cp.name === tp) return cp.containerPort;
  }
  return sp.port;
}

function podEndpoint(host: string, sp: KubeServicePort, pod: Resource<KubePodSpec>, address: string, port: number, healthy: boolean, zone?: string): Endpoint {
  const labels = pod.metadata.labels ?? {};
  const loc = podLocality(labels);
  return {
    serviceHost: host,
    servicePort: sp.port,
    address,
    port,
    labels,
    serviceAccount: pod.spec?.serviceAccountName ?? 'default',
    locality: loc !== '' ? loc : zone ? `/${zone}` : '',
    weight: 1,
    healthy,
    tlsMode: podHasSidecar(pod) ? 'istio' : 'disabled',
    namespace: nsOf(pod),
    workloadName: pod.metadata.name,
  };
}

/** Convert the Kubernetes Services, Pods and EndpointSlices among `configs`. */
export function kubeToModel(configs: readonly Resource[], domainSuffix: string): { services: Service[]; endpoints: Endpoint[] } {
  const services: Service[] = [];
  const endpoints: Endpoint[] = [];
  const pods = configs.filter((r) => r.kind === 'Pod') as Array<Resource<KubePodSpec>>;
  const podByKey = new Map(pods.map((p) => [`${nsOf(p)}/${p.metadata.name}`, p]));
  // Indexes so that a mesh of thousands of services stays linear: pods by namespace and one label, slices by service.
  const podsByLabel = new Map<string, Array<Resource<KubePodSpec>>>();
  for (const p of pods) {
    for (const [k, v] of Object.entries(p.metadata.labels ?? {})) {
      const key = `${nsOf(p)}/${k}=${v}`;
      const list = podsByLabel.get(key);
      if (list) list.push(p);
      else podsByLabel.set(key, [p]);
    }
  }
  const slicesByService = new Map<string, Resource[]>();
  for (const sl of configs) {
    if (sl.kind !== 'EndpointSlice') continue;
    const key = `${nsOf(sl)}/${(sl.metadata.labels ?? {})[SERVICE_NAME_LABEL] ?? ''}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), sl]);
  }
  for (const svc of configs.filter((r) => r.kind === 'Service' && r.apiVersion === 'v1') as Array<Resource<KubeServiceSpec>>) {
    const ns = nsOf(svc);
    const spec = svc.spec ?? {};
    const host = `${svc.metadata.name}.${ns}.svc.${domainSuffix}`;
    const kports = (spec.ports ?? []).filter((p) => kubePort(p) !== undefined);
    const exportTo = (svc.metadata.annotations ?? {})[EXPORT_TO_ANNOTATION];
    if (spec.type === 'ExternalName') {
      // As Istio: a DNS service whose one endpoint per port is the external name.
      if (!spec.externalName) continue;
      services.push({
        hostname: host,
        namespace: ns,
        name: svc.metadata.name,
        source: 'Kubernetes',
        addresses: [],
        ports: kports.map((p) => kubePort(p)!),
        resolution: 'DNS',
        location: 'MESH_EXTERNAL',
        exportTo: exportTo ? exportTo.split(',').map((x) => x.trim()) : [],
        labels: svc.metadata.labels ?? {},
      });
      for (const sp of kports) {
        endpoints.push({
          serviceHost: host, servicePort: sp.port, address: spec.externalName, port: sp.port, labels: {}, serviceAccount: '', locality: '',
          weight: 1, healthy: true, tlsMode: 'disabled', namespace: ns, workloadName: svc.metadata.name,
        });
      }
      continue;
    }
    services.push({
      hostname: host,
      namespace: ns,
      name: svc.metadata.name,
      source: 'Kubernetes',
      addresses: spec.clusterIP && spec.clusterIP !== 'None' ? [spec.clusterIP] : [],
      ports: kports.map((p) => kubePort(p)!),
      resolution: 'STATIC',
      location: 'MESH_INTERNAL',
      exportTo: exportTo ? exportTo.split(',').map((s) => s.trim()) : [],
      labels: svc.metadata.labels ?? {},
    });
    const mySlices = slicesByService.get(`${ns}/${svc.metadata.name}`) ?? [];
    if (mySlices.length > 0) {
      for (const slice of mySlices) {
        const sliceEps = topLevel<EndpointSliceBody['endpoints']>(slice, 'endpoints') ?? [];
        const slicePorts = topLevel<EndpointSliceBody['ports']>(slice, 'ports') ?? [];
        for (const sp of kports) {
          const match = slicePorts.find((p) => (p.name ?? '') === (sp.name ?? '')) ?? (slicePorts.length === 1 ? slicePorts[0] : undefined);
          const port = match?.port ?? targetPortOn(undefined, sp);
          for (const e of sliceEps) {
            const ref = e.targetRef?.kind === 'Pod' ? podByKey.get(`${e.targetRef.namespace ?? ns}/${e.targetRef.name ?? ''}`) : undefined;
            const healthy = e.conditions?.ready !== false;
            for (const address of e.addresses ?? []) {
              const owner: Resource<KubePodSpec> = ref ?? { apiVersion: 'v1', kind: 'Pod', metadata: { name: e.targetRef?.name ?? address, namespace: ns }, spec: { containers: [] } };
              endpoints.push(podEndpoint(host, sp, owner, address, port, healthy, e.zone));
            }
          }
        }
      }
    } else if (spec.selector && Object.keys(spec.selector).length > 0) {
      const [firstKey, firstValue] = Object.entries(spec.selector)[0]!;
      for (const pod of podsByLabel.get(`${ns}/${firstKey}=${firstValue}`) ?? []) {
        const status = pod.status as KubePodStatus | undefined;
        if (nsOf(pod) !== ns || !status?.podIP || !labelsMatch(spec.selector, pod.metadata.labels ?? {})) continue;
        for (const sp of kports) endpoints.push(podEndpoint(host, sp, pod, status.podIP, targetPortOn(pod, sp), podReady(status)));
      }
    }
  }
  return { services, endpoints };
}
