// The EC2 stand-in of the tests (a stand-in, not EC2: see ec2-standin.ts).
export { Ec2StandIn, type Ec2StandInOptions, type ManifestLookup, type RecordedEc2Request, type StandInImage } from './ec2-standin.js';
export { s3ManifestReader } from './s3-manifest-reader.js';
export { EC2_API_VERSION, EC2_NAMESPACE } from './ec2-query.js';
