export * from './topology';
export * from './jetstream';
export * from './models';
export * from './nats-server';
export * from './nats-cluster';
