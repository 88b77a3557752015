export { startNatsServer, freePort, findNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
export * from './fixtures';
export { startNatsCluster, type ClusterServerHandle, type NatsClusterHandle, type StartNatsClusterOptions } from './nats-cluster';
export { startTcpProxy, TcpProxyError, type TcpProxy } from './tcp-proxy';
export {
  startPostgres,
  findPostgresBinDir,
  PostgresNotInstalledError,
  PostgresStartError,
  type PostgresServerHandle,
  type StartPostgresOptions,
} from './postgres';
