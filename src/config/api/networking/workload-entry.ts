// WorkloadEntry: typed spec (WorkloadEntrySpec in shared.ts) and Istio's webhook rules — address (IP, DNS name or
// unix socket; required unless a network is given), port names and numbers, labels. Also used for ServiceEntry endpoints.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { isDns1123Label, validateFqdn } from '../validation/common/host.ts';
import { checkPort, isIP, UNIX_ADDRESS_PREFIX, validateUnixAddress } from '../validation/common/net.ts';
import { checkLabels } from '../validation/common/labels.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { entries, q, str, type Obj } from './util.ts';

export type * from './workload-entry.types.ts';

export interface WorkloadEntryCheckOptions {
  /** Port names of the enclosing ServiceEntry; endpoint ports must be among them. Undefined for a standalone entry. */
  servicePorts?: ReadonlySet<string>;
  /** Whether a DNS name is accepted as the address (standalone entries and DNS resolution); default true. */
  allowFqdn?: boolean;
}

/** Check a WorkloadEntry body (standalone spec, ServiceEntry endpoint or WorkloadGroup template) at `r`. */
export function checkWorkloadEntry(r: Reporter, we: Obj, opts: WorkloadEntryCheckOptions = {}): void {
  const addr = str(we.address);
  if (addr === '') {
    if (str(we.network) === '') return r.at('address').error('address is required: give an IP address, a DNS name or unix:///path');
    r.at('address').warn(`address is unset with network ${q(we.network)}: the entry is only reachable through that network's gateway`);
  }
  let unix = false;
  if (addr.startsWith(UNIX_ADDRESS_PREFIX)) {
    unix = true;
    const m = validateUnixAddress(addr.slice(UNIX_ADDRESS_PREFIX.length));
    if (m !== undefined) r.at('address').error(m);
    if (entries(we.ports).length > 0) r.at('ports').error(`unix endpoint ${q(addr)} must not have ports`);
  } else if (addr !== '' && !isIP(addr)) {
    if (opts.allowFqdn === false) r.at('address').error(`endpoint address ${q(addr)} is not a valid IP address (resolution STATIC needs IP addresses)`);
    else if (validateFqdn(addr) !== undefined) r.at('address').error(`endpoint address ${q(addr)} is not a valid FQDN or IP address`);
  }
  for (const [name, port] of entries(we.ports)) {
    const pr = r.at('ports').at(name);
    if (opts.servicePorts !== undefined && !opts.servicePorts.has(name)) pr.error(`endpoint port ${q(name)} is not defined by the ServiceEntry: use one of its port names`);
    if (!isDns1123Label(name)) pr.error(`invalid port name ${q(name)}: it must be a DNS-1123 label`);
    checkPort(pr, port);
  }
  checkLabels(r.at('labels'), we.labels);
  if (unix && opts.servicePorts !== undefined && opts.servicePorts.size !== 1) r.error('a unix socket endpoint needs exactly one service port in the ServiceEntry');
}

export const validateWorkloadEntry: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  checkWorkloadEntry(root.at('spec'), (resource.spec ?? {}) as Obj);
  return root.out;
};
