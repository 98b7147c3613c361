// IST0134: a ServiceEntry with TCP (or unspecified-protocol) ports but no addresses: without an address the
// proxy cannot tell its traffic apart, unless DNS capture with auto-allocation is on.
import type { Analyzer } from '../context.ts';
import { GK, arr, rec, recs, str } from '../model.ts';

export const protocolAddresses: Analyzer = {
  name: 'serviceentry.Analyzer',
  description: 'Checks the validity of ServiceEntry',
  analyze(ctx) {
    const md = ctx.mesh.proxyMetadata;
    const autoAllocated = md['ISTIO_META_DNS_CAPTURE'] === 'true' && (md['ISTIO_META_DNS_AUTO_ALLOCATE'] === 'true' || md['PILOT_ENABLE_IP_AUTOALLOCATE'] === 'true');
    if (autoAllocated) return;
    for (const se of ctx.each(GK.ServiceEntry)) {
      if (arr(se.spec['addresses']).length > 0) continue;
      if (arr(rec(se.status)['addresses']).length > 0) continue; // allocated by the control plane
      for (const p of recs(se.spec['ports'])) {
        const proto = str(p['protocol']);
        if (proto === '' || proto.toUpperCase() === 'TCP') ctx.report('ServiceEntryAddressesRequired', se);
      }
    }
  },
};
