// IST0128 / IST0129: a DestinationRule originates TLS (SIMPLE or MUTUAL) without caCertificates, so the server's
// certificate is not verified (unless a credentialName is used with a workloadSelector).
import type { Analyzer } from '../context.ts';
import type { Rec } from '../model.ts';
import { GK, fullName, isRec, num, rec, recs, str } from '../model.ts';

const originates = (tls: Rec): boolean => ['SIMPLE', 'MUTUAL'].includes(str(tls['mode']));

export const caCertificates: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: 'Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL',
  analyze(ctx) {
    for (const dr of ctx.each(GK.DestinationRule)) {
      const hasSelector = isRec(dr.spec['workloadSelector']);
      const unverified = (tls: Rec): boolean => originates(tls) && str(tls['caCertificates']) === '' && !(str(tls['credentialName']) !== '' && hasSelector);
      const policy = rec(dr.spec['trafficPolicy']);
      const host = str(dr.spec['host']);
      const tls = rec(policy['tls']);
      if (unverified(tls)) ctx.report('NoServerCertificateVerificationDestinationLevel', dr, fullName(dr), dr.namespace, str(tls['mode']), host);
      for (const p of recs(policy['portLevelSettings'])) {
        const ptls = rec(p['tls']);
        if (!unverified(ptls)) continue;
        const n = num(rec(p['port'])['number']);
        ctx.report('NoServerCertificateVerificationPortLevel', dr, fullName(dr), dr.namespace, str(ptls['mode']), host, n === undefined ? '' : `number:${n}`);
      }
    }
  },
};
