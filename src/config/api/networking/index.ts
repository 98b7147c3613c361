// networking.istio.io kinds (v1, v1beta1, v1alpha3 share one schema): typed specs and their semantic validators.
import type { SemanticValidator } from '../validation/report.ts';
import { validateVirtualService } from './virtual-service.ts';
import { validateDestinationRule } from './destination-rule.ts';
import { validateGateway } from './gateway.ts';
import { validateServiceEntry } from './service-entry.ts';
import { validateWorkloadEntry } from './workload-entry.ts';
import { validateWorkloadGroup } from './workload-group.ts';
import { validateSidecar } from './sidecar.ts';

export type * from './shared.ts';
export type * from './virtual-service.types.ts';
export type * from './destination-rule.types.ts';
export type * from './gateway.types.ts';
export type * from './service-entry.types.ts';
export type * from './workload-group.types.ts';
export type * from './sidecar.types.ts';

export { validateVirtualService, validateDestinationRule, validateGateway, validateServiceEntry, validateWorkloadEntry, validateWorkloadGroup, validateSidecar };
export { checkWorkloadEntry } from './workload-entry.ts';
export { MESH_GATEWAY, GRPC_STATUS_NAMES } from './virtual-service.ts';
export { isUnreachableRuleWarning } from './unreachable-rules.ts';

export type NetworkingKind = 'VirtualService' | 'DestinationRule' | 'Gateway' | 'ServiceEntry' | 'WorkloadEntry' | 'WorkloadGroup' | 'Sidecar';

/** The semantic (webhook-layer) validator of each networking.istio.io kind; run after the schema layer has passed. */
export const networkingValidators: Record<NetworkingKind, SemanticValidator> = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  Gateway: validateGateway,
  ServiceEntry: validateServiceEntry,
  WorkloadEntry: validateWorkloadEntry,
  WorkloadGroup: validateWorkloadGroup,
  Sidecar: validateSidecar,
};
