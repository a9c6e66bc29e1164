// @bundlefarm/ec2: EC2 image registration of published instance-store bundles (see image-registration.ts).

// Settings (region, endpoint, credentials) and the client made from them.
export { checkEc2Settings, type Ec2Settings, type Ec2StaticCredentials, type ResolvedEc2Settings } from './ec2-settings.js';
export { createEc2Client } from './ec2-client.js';
// What a RegisterImage request is made of: the manifest location and the AMI name, description and block-device-mapping rules.
export { parseManifestLocation, type ManifestLocation, type BlockDeviceMappingEntry, type RegisterImageOptions, amiNameSchema, amiDescriptionSchema, amiBlockDeviceMappingSchema } from './image-request.js';
// Registering and deregistering AMIs (registerOnce: idempotent by AMI name and manifest).
export { registerImage, registerOnce, deregisterImage, type RegisterOnceResult, type Ec2ClientLike, type Ec2CallOptions } from './image-registration.js';
