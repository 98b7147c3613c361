// WorkloadGroup: typed spec (see workload-group.types.ts) and Istio's webhook rules — template required, valid
// metadata labels, and a readiness probe with non-negative timings and a well-formed check method.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { checkPort } from '../validation/common/net.ts';
import { checkLabels } from '../validation/common/labels.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { arr, isSet, num, obj, str, type Obj } from './util.ts';

export type * from './workload-group.types.ts';

const PROBE_HEADER_NAME = /^[-A-Za-z0-9]+$/;

export const validateWorkloadGroup: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  // Istio stops at the first of these problems, so Weft does too.
  if (!isSet(spec.template)) {
    r.at('template').error('template is required: give at least {} (address and labels are filled in when workloads register)');
    return root.out;
  }
  const before = root.out.errors.length;
  checkLabels(r.at('metadata').at('labels'), obj(spec.metadata)?.labels);
  if (root.out.errors.length > before) return root.out;
  checkProbe(r.at('probe'), obj(spec.probe));
  return root.out;
};

function checkProbe(r: Reporter, p: Obj | undefined): void {
  if (p === undefined) return;
  for (const f of ['periodSeconds', 'initialDelaySeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const) {
    if (num(p[f]) < 0) r.at(f).error(`${f} must not be negative`);
  }
  const http = obj(p.httpGet);
  const tcp = obj(p.tcpSocket);
  const exec = obj(p.exec);
  if (http !== undefined) {
    checkPort(r.at('httpGet').at('port'), http.port);
    const scheme = str(http.scheme);
    if (scheme !== '' && scheme !== 'HTTP' && scheme !== 'HTTPS') r.at('httpGet').at('scheme').error('httpGet.scheme must be "HTTP" or "HTTPS"');
    arr(http.httpHeaders).forEach((h, i) => {
      const hr = r.at('httpGet').at('httpHeaders').at(i);
      const ho = obj(h);
      if (ho === undefined) return hr.error('header may not be null');
      const name = str(ho.name);
      if (name === '') hr.at('name').error('header name cannot be empty');
      else if (!PROBE_HEADER_NAME.test(name)) hr.at('name').error(`header name ${JSON.stringify(name)} is not valid: use letters, digits and '-'`);
    });
  } else if (tcp !== undefined) {
    checkPort(r.at('tcpSocket').at('port'), tcp.port);
  } else if (exec !== undefined) {
    if (arr(exec.command).length === 0) r.at('exec').at('command').error('exec.command is required');
  } else {
    // Istio's probe validation knows httpGet, tcpSocket and exec; grpc and "none" are rejected.
    r.error('probe needs a check method: set one of httpGet, tcpSocket or exec');
  }
}
