/** Injection token of the validated {@link import('../config').CoordinatorConfig}. */
export const COORDINATOR_CONFIG = Symbol('COORDINATOR_CONFIG');
/** Injection token of the coordinator's {@link import('@benchfarm/messaging').FarmStore} (NATS handles). */
export const FARM_STORE = Symbol('FARM_STORE');
