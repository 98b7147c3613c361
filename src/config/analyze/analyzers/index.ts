// Every analyzer `weft analyze` runs, in Istio's naming.
import type { Analyzer } from '../context.ts';
import { authorizationPolicies } from './authz-policies.ts';
import { caCertificates } from './dr-ca-certificates.ts';
import { subsetSelectsPods } from './dr-subset.ts';
import { conflictingGateways } from './gateway-conflicting.ts';
import { ingressGatewayPort } from './gateway-port.ts';
import { schemaValidation } from './schema.ts';
import { protocolAddresses } from './se-protocol-addresses.ts';
import { portName } from './service-port-name.ts';
import { sidecarSelector } from './sidecar-selector.ts';
import { conflictingMeshGatewayHosts } from './vs-conflicting-mesh-gateway-hosts.ts';
import { destinationHosts } from './vs-destination-hosts.ts';
import { destinationRules } from './vs-destination-rules.ts';
import { gateways } from './vs-gateways.ts';
import { jwtClaimRoute } from './vs-jwt-claim-route.ts';
import { unreachableRules } from './vs-unreachable-rules.ts';

export const allAnalyzers: readonly Analyzer[] = [
  authorizationPolicies,
  caCertificates,
  subsetSelectsPods,
  conflictingGateways,
  ingressGatewayPort,
  schemaValidation,
  protocolAddresses,
  portName,
  sidecarSelector,
  conflictingMeshGatewayHosts,
  destinationHosts,
  destinationRules,
  gateways,
  jwtClaimRoute,
  unreachableRules,
];

export function analyzerByName(name: string): Analyzer | undefined {
  return allAnalyzers.find((a) => a.name === name);
}
