export { startNatsServer, freePort, findNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
export * from './fixtures';
