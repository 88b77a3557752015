// @benchfarm/fleet: what a simulated fleet's driver (`benchfarm simulate-fleet`) and its worker
// processes (the agent's simulated agents) say to each other. Types only; the single public entry.
export type {
  ConnectionScope,
  FetchAnswer,
  FleetCommand,
  FleetEvent,
  FleetWorkerSpec,
  ModelCacheScope,
  ModelCacheStats,
  SimulatedJobOutcome,
  SimulatedJobRecord,
  WorkerStats,
} from './fleet-protocol';
