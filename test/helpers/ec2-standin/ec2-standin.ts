/*
 * A STAND-IN for the Amazon EC2 Query API, for TESTS ONLY. It is not EC2 and not an emulator of it:
 * EC2 cannot be reached from the test machines and no EC2 emulator is available, so this small
 * node:http server on loopback answers the three calls bundlefarm makes — RegisterImage,
 * DescribeImages, DeregisterImage — the way AWS documents them, so that tests can check the exact
 * requests the AWS SDK sends and what bundlefarm does with EC2's answers and errors.
 *
 * What it checks, as EC2 does:
 * - POST / with a form-encoded body (`Action`, `Version=2016-11-15`, EC2's `Name.N` list forms), signed
 *   with SigV4 for this endpoint's region and the `ec2` service (@smithy/signature-v4 computes the
 *   expected signature); an unknown key or bad signature is `AuthFailure` (401).
 * - RegisterImage (instance-store): `Name` 3–128 characters of letters, digits and `()[] ./-'@_`
 *   (`InvalidAMIName.Malformed`), a name an image of the account holds already
 *   (`InvalidAMIName.Duplicate`, naming that image), `Description` ≤ 255 characters, `Architecture`,
 *   `VirtualizationType`, kernel/ramdisk id forms, block device mappings (`ephemeralN` virtual names,
 *   unique device names), `ImageLocation` `bucket/key` whose manifest EC2 can read in the S3 front of
 *   this region — missing, unreadable by EC2 (no `aws-exec-read`), not a 2007-10-10 manifest, or in a
 *   bucket of another region: `InvalidManifest`.
 * - DescribeImages: `Owner.N` (`self` or the account id), `ImageId.N`, filters `name` (with `*` and `?`
 *   wildcards), `image-id`, `manifest-location`, `state`; another filter is `InvalidParameterValue`.
 * - DeregisterImage: `InvalidAMIID.Malformed`, `InvalidAMIID.NotFound`; the image disappears from
 *   DescribeImages.
 *
 * It records every request (action, the decoded parameters exactly as sent, key id, status, error code)
 * in arrival order. `beforeAnswer` lets a test hold an answer after the request took effect (a worker
 * then dies with the image registered but its id unknown); `failNext` answers the next requests of an
 * action with an error instead.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { element, errorXml, EC2_API_VERSION, Ec2StandInError, indexes, listOf, newRequestId, parseForm, successXml, type QueryParams } from './ec2-query.js';
import { verifyEc2Signature, type StandInCredentials } from './sigv4-ec2.js';

/** What the stand-in found reading a manifest the way EC2 would. */
export type ManifestLookup = { xml: string } | { problem: string };

export interface Ec2StandInOptions {
  /** The region this endpoint is (default us-east-1): signatures must be scoped to it. */
  region?: string;
  /** The account owning the images (default 123456789012). */
  accountId?: string;
  /** Key pairs accepted (default: the tests' S3RVER/S3RVER pair). */
  credentials?: StandInCredentials[];
  /**
   * Reads the manifest at `bucket/key` as EC2 would (see `s3ManifestReader`). Default: every manifest
   * is refused as unreadable — a stand-in without S3 registers nothing.
   */
  readManifest?: (bucket: string, key: string, region: string) => Promise<ManifestLookup>;
  /** Called after a request took effect and before its answer goes out (a test may hold it there). */
  beforeAnswer?: (request: RecordedEc2Request) => Promise<void> | void;
}

export interface RecordedEc2Request {
  /** Arrival order, from 1. */
  id: number;
  action: string;
  /** Every form parameter, decoded, as sent. */
  params: Record<string, string>;
  accessKeyId: string | undefined;
  /** HTTP status answered (0 while unanswered or when the client went away first). */
  status: number;
  errorCode: string | undefined;
  /** The AMI id a successful RegisterImage created. */
  imageId?: string;
}

export interface StandInImage {
  imageId: string;
  name: string;
  imageLocation: string;
  state: 'available' | 'deregistered';
  description?: string;
  architecture: string;
  kernelId?: string;
  ramdiskId?: string;
  virtualizationType: string;
  blockDeviceMappings: Array<{ deviceName: string; virtualName: string }>;
  creationDate: string;
}

const AMI_NAME = /^[A-Za-z0-9()[\] ./'@_-]{3,128}$/;
const AMI_ID = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export class Ec2StandIn {
  readonly region: string;
  readonly accountId: string;
  readonly requests: RecordedEc2Request[] = [];
  /** Every image registered here, deregistered ones included (state `deregistered`). */
  readonly images: StandInImage[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly faults: Array<{ action: string; status: number; code: string; message: string; times: number }> = [];
  private readonly credentials: StandInCredentials[];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly options: Ec2StandInOptions,
  ) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.credentials = options.credentials ?? [{ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }];
  }

  static async start(options: Ec2StandInOptions = {}): Promise<Ec2StandIn> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const standIn = new Ec2StandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
    server.on('connection', (s) => {
      standIn.sockets.add(s);
      s.once('close', () => standIn.sockets.delete(s));
    });
    server.on('request', (req, res) => {
      standIn.handle(req, res).catch((err: unknown) => {
        // a bug of the stand-in: loud, and EC2's 500
        console.error('EC2 stand-in failed:', err);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    return standIn;
  }

  /** Requests of one action, in arrival order. */
  calls(action: string): RecordedEc2Request[] {
    return this.requests.filter((r) => r.action === action);
  }

  /** The next `times` requests of `action` are answered with this error instead (after signature checks). */
  failNext(action: string, code: string, status = 503, times = 1, message = `${code} (injected by the test)`): void {
    this.faults.push({ action, code, status, message, times });
  }

  /** Images not deregistered. */
  liveImages(): StandInImage[] {
    return this.images.filter((i) => i.state === 'available');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const requestId = newRequestId();
    const record: RecordedEc2Request = { id: this.requests.length + 1, action: '', params: {}, accessKeyId: undefined, status: 0, errorCode: undefined };
    this.requests.push(record);
    let status = 200;
    let xml: string;
    try {
      if (req.method !== 'POST' || (req.url ?? '/') !== '/') throw new Ec2StandInError(400, 'InvalidAction', 'The stand-in takes POST / with a form-encoded body only');
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        throw new Ec2StandInError(400, 'InvalidParameterValue', 'The request body must be application/x-www-form-urlencoded');
      }
      const params = parseForm(body);
      record.params = Object.fromEntries(params);
      record.action = params.get('Action') ?? '';
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
      record.accessKeyId = await verifyEc2Signature({ method: 'POST', path: '/', host: req.headers.host ?? '', headers, body }, this.region, (id) =>
        this.credentials.find((c) => c.accessKeyId === id),
      );
      if (params.get('Version') !== EC2_API_VERSION) throw new Ec2StandInError(400, 'InvalidParameterValue', `Version ${params.get('Version') ?? '(none)'} is not supported`);
      const fault = this.faults.find((f) => f.action === record.action && f.times > 0);
      if (fault) {
        fault.times--;
        throw new Ec2StandInError(fault.status, fault.code, fault.message);
      }
      xml = successXml(record.action, requestId, await this.dispatch(record, params));
    } catch (err) {
      if (!(err instanceof Ec2StandInError)) throw err;
      status = err.status;
      record.errorCode = err.code;
      xml = errorXml(err, requestId);
    }
    await this.options.beforeAnswer?.(record);
    if (res.destroyed || req.socket.destroyed) return;
    record.status = status;
    res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId }).end(xml);
  }

  private async dispatch(record: RecordedEc2Request, params: QueryParams): Promise<string> {
    switch (record.action) {
      case 'RegisterImage': {
        const image = await this.registerImage(params);
        record.imageId = image.imageId;
        return element('imageId', image.imageId);
      }
      case 'DescribeImages':
        return `<imagesSet>${this.describeImages(params).map((i) => imageXml(i, this.accountId)).join('')}</imagesSet>`;
      case 'DeregisterImage':
        this.deregisterImage(params);
        return element('return', 'true');
      case '':
        throw new Ec2StandInError(400, 'MissingAction', 'The request must contain the parameter Action');
      default:
        throw new Ec2StandInError(400, 'InvalidAction', `The action ${record.action} is not valid for this web service (the stand-in knows RegisterImage, DescribeImages, DeregisterImage)`);
    }
  }

  private async registerImage(p: QueryParams): Promise<StandInImage> {
    const name = p.get('Name');
    if (name === undefined) throw new Ec2StandInError(400, 'MissingParameter', 'The request must contain the parameter name');
    if (!AMI_NAME.test(name)) {
      throw new Ec2StandInError(
        400,
        'InvalidAMIName.Malformed',
        "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', ' ', '[', ']', ''', '@'",
      );
    }
    const description = p.get('Description');
    if (description !== undefined && description.length > 255) throw new Ec2StandInError(400, 'InvalidParameterValue', 'Value for parameter Description is invalid: it is longer than 255 characters');
    const architecture = p.get('Architecture');
    if (architecture !== undefined && !['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'].includes(architecture)) {
      throw new Ec2StandInError(400, 'InvalidParameterValue', `Value (${architecture}) for parameter architecture is invalid`);
    }
    const virtualizationType = p.get('VirtualizationType');
    if (virtualizationType !== undefined && !['paravirtual', 'hvm'].includes(virtualizationType)) {
      throw new Ec2StandInError(400, 'InvalidParameterValue', `Value (${virtualizationType}) for parameter virtualizationType is invalid. Valid values: paravirtual, hvm`);
    }
    const kernelId = p.get('KernelId');
    if (kernelId !== undefined && !/^aki-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(kernelId)) throw new Ec2StandInError(400, 'InvalidAKIID.Malformed', `Invalid id: "${kernelId}"`);
    const ramdiskId = p.get('RamdiskId');
    if (ramdiskId !== undefined && !/^ari-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(ramdiskId)) throw new Ec2StandInError(400, 'InvalidARIID.Malformed', `Invalid id: "${ramdiskId}"`);
    const blockDeviceMappings = indexes(p, 'BlockDeviceMapping').map((i) => {
      const deviceName = p.get(`BlockDeviceMapping.${i}.DeviceName`);
      const virtualName = p.get(`BlockDeviceMapping.${i}.VirtualName`);
      if (deviceName === undefined) throw new Ec2StandInError(400, 'MissingParameter', `The request must contain the parameter BlockDeviceMapping.${i}.DeviceName`);
      if (virtualName === undefined || !/^ephemeral(?:[0-9]|1[0-9]|2[0-3])$/.test(virtualName)) {
        throw new Ec2StandInError(400, 'InvalidBlockDeviceMapping', `Invalid virtual name ${virtualName ?? '(none)'} for device ${deviceName}: instance-store images map ephemeral0-ephemeral23`);
      }
      return { deviceName, virtualName };
    });
    if (new Set(blockDeviceMappings.map((m) => m.deviceName.replace(/^\/dev\//, ''))).size !== blockDeviceMappings.length) {
      throw new Ec2StandInError(400, 'InvalidBlockDeviceMapping', 'The device names of the block device mappings must be unique');
    }
    const location = p.get('ImageLocation');
    if (location === undefined) throw new Ec2StandInError(400, 'MissingParameter', 'The request must contain the parameter ImageLocation (the stand-in registers instance-store images only)');
    const holder = this.liveImages().find((i) => i.name === name);
    if (holder) throw new Ec2StandInError(400, 'InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${holder.imageId}`);
    const manifest = await this.readManifest(location);
    const image: StandInImage = {
      imageId: `ami-${randomBytes(9).toString('hex').slice(0, 17)}`,
      name,
      imageLocation: location,
      state: 'available',
      ...(description !== undefined ? { description } : {}),
      architecture: architecture ?? manifest.architecture,
      ...(kernelId !== undefined ? { kernelId } : {}),
      ...(ramdiskId !== undefined ? { ramdiskId } : {}),
      virtualizationType: virtualizationType ?? 'paravirtual',
      blockDeviceMappings,
      creationDate: new Date().toISOString(),
    };
    // a name registered meanwhile (two requests at once) is still a duplicate
    const raced = this.liveImages().find((i) => i.name === name);
    if (raced) throw new Ec2StandInError(400, 'InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${raced.imageId}`);
    this.images.push(image);
    return image;
  }

  private async readManifest(location: string): Promise<{ architecture: string }> {
    const slash = location.indexOf('/');
    if (slash <= 0 || !location.endsWith('.manifest.xml')) throw new Ec2StandInError(400, 'InvalidManifest', `Invalid manifest location ${location}: expected bucket/key.manifest.xml`);
    const read = this.options.readManifest;
    const found: ManifestLookup = read ? await read(location.slice(0, slash), location.slice(slash + 1), this.region) : { problem: 'the stand-in has no S3 to read it from' };
    if ('problem' in found) throw new Ec2StandInError(400, 'InvalidManifest', `Unable to read manifest ${location}: ${found.problem}`);
    const xml = found.xml;
    if (!/<manifest>/.test(xml) || !/<version>2007-10-10<\/version>/.test(xml)) throw new Ec2StandInError(400, 'InvalidManifest', `${location} is not a bundle manifest of version 2007-10-10`);
    return { architecture: /<architecture>([^<]+)<\/architecture>/.exec(xml)?.[1] ?? 'i386' };
  }

  private describeImages(p: QueryParams): StandInImage[] {
    const owners = listOf(p, 'Owner');
    for (const o of owners) {
      if (o !== 'self' && o !== 'amazon' && o !== 'aws-marketplace' && !/^\d{12}$/.test(o)) throw new Ec2StandInError(400, 'InvalidUserID.Malformed', `Invalid user id: "${o}"`);
    }
    const ids = listOf(p, 'ImageId');
    for (const id of ids) if (!AMI_ID.test(id)) throw new Ec2StandInError(400, 'InvalidAMIID.Malformed', `Invalid id: "${id}"`);
    const filters = indexes(p, 'Filter').map((i) => {
      const name = p.get(`Filter.${i}.Name`);
      if (name === undefined) throw new Ec2StandInError(400, 'MissingParameter', `The request must contain the parameter Filter.${i}.Name`);
      if (!['name', 'image-id', 'manifest-location', 'state'].includes(name)) throw new Ec2StandInError(400, 'InvalidParameterValue', `The filter '${name}' is invalid`);
      return { name, values: listOf(p, `Filter.${i}.Value`).map(wildcard) };
    });
    const mine = owners.length === 0 || owners.some((o) => o === 'self' || o === this.accountId);
    const missing = ids.find((id) => !this.liveImages().some((i) => i.imageId === id));
    if (missing !== undefined) throw new Ec2StandInError(400, 'InvalidAMIID.NotFound', `The image id '[${missing}]' does not exist`);
    if (!mine) return [];
    return this.liveImages().filter(
      (image) =>
        (ids.length === 0 || ids.includes(image.imageId)) &&
        filters.every((f) => {
          const value = f.name === 'name' ? image.name : f.name === 'image-id' ? image.imageId : f.name === 'state' ? image.state : image.imageLocation;
          return f.values.some((re) => re.test(value));
        }),
    );
  }

  private deregisterImage(p: QueryParams): void {
    const id = p.get('ImageId');
    if (id === undefined) throw new Ec2StandInError(400, 'MissingParameter', 'The request must contain the parameter ImageId');
    if (!AMI_ID.test(id)) throw new Ec2StandInError(400, 'InvalidAMIID.Malformed', `Invalid id: "${id}"`);
    const image = this.liveImages().find((i) => i.imageId === id);
    if (!image) throw new Ec2StandInError(400, 'InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
    image.state = 'deregistered';
  }
}

/** EC2 filter values: `*` any run, `?` one character, `\` escapes. */
function wildcard(value: string): RegExp {
  let re = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) re += escapeRe(value[++i]!);
    else if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function imageXml(i: StandInImage, accountId: string): string {
  const mappings = i.blockDeviceMappings.map((m) => `<item>${element('deviceName', m.deviceName)}${element('virtualName', m.virtualName)}</item>`).join('');
  return (
    '<item>' +
    element('imageId', i.imageId) +
    element('imageLocation', i.imageLocation) +
    element('imageState', i.state) +
    element('imageOwnerId', accountId) +
    element('creationDate', i.creationDate) +
    element('isPublic', false) +
    element('architecture', i.architecture) +
    element('imageType', 'machine') +
    element('kernelId', i.kernelId) +
    element('ramdiskId', i.ramdiskId) +
    element('name', i.name) +
    element('description', i.description) +
    element('rootDeviceType', 'instance-store') +
    element('virtualizationType', i.virtualizationType) +
    element('hypervisor', 'xen') +
    `<blockDeviceMapping>${mappings}</blockDeviceMapping>` +
    '</item>'
  );
}
