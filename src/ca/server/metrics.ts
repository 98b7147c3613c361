// The CA's Prometheus metrics under Istio's names (citadel_server_*), read from the service's counters at scrape
// time, so the hot path only increments plain numbers. Bounded labels only.
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Registry } from 'prom-client';
import type { CertificateAuthority } from './authority.ts';
import type { CaStats } from './service.ts';

export function createCaMetrics(stats: () => CaStats, ca: CertificateAuthority): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: (s: CaStats) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  };
  counter('citadel_server_csr_count', 'The number of CSRs received by the CA.', (s) => s.csrCount);
  counter('citadel_server_success_cert_issuance_count', 'The number of certificates issued.', (s) => s.issued);
  counter('citadel_server_authentication_failure_count', 'The number of CSRs refused because the caller could not be authenticated.', (s) => s.authenticationFailures);
  counter('citadel_server_csr_parsing_err_count', 'The number of CSRs that could not be parsed or verified.', (s) => s.csrParseErrors);
  counter('citadel_server_csr_sign_err_count', 'The number of CSRs that failed in signing.', (s) => s.signErrors);
  counter('weft_ca_permission_denied_count', 'The number of CSRs refused because they named an identity other than the caller\'s.', (s) => s.permissionDenied);
  new Gauge({
    name: 'citadel_server_root_cert_expiry_timestamp',
    help: 'The unix timestamp, in seconds, when the earliest-expiring trusted root certificate expires.',
    registers: [registry],
    collect() {
      this.set(Math.min(...ca.rootsPem().map((p) => Date.parse(new X509Certificate(p).validTo) / 1000)));
    },
  });
  return registry;
}
