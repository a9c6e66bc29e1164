/**
 * The `ec2` section of the worker configuration, kept importable at this path (the package's worker
 * entry and docs/service.md name it); it lives with the other sections in config/ec2-config.ts.
 */
export { ec2ConfigSchema, ec2SettingsFor, resolveEc2Config, type Ec2ConfigInput, type Ec2ConnectionSettings, type WorkerEc2Config } from './config/ec2-config.js';
