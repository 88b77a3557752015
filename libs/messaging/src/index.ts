export * from './topology';
export * from './jetstream';
export * from './models';
export * from './nats-server';
export * from './farm-open';
export * from './auth/permissions';
export * from './auth/farm-security';
