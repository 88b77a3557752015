// The REST contract of the coordinator as zod schemas: the coordinator validates requests with
// them and generates its OpenAPI document from them; the CLI takes its types and its sweep
// file's keys from them. JSON at the REST edge only: NATS and gRPC carry proto/ messages.
export * from './scenario-request';
export * from './runtime-request';
export * from './config-search-request';
export * from './sweep-request';
export * from './cancel-request';
export * from './enrollment-request';
export * from './dataset-request';
export * from './request-components';
export * from './views';
export * from './sweep-field-docs';
