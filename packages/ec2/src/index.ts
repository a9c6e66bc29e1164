// EC2 image registration of published instance-store bundles (see image-registration.ts).
export * from './ec2-settings.js';
export * from './ec2-client.js';
export * from './ec2-error-mapping.js';
export * from './image-request.js';
export * from './image-registration.js';
