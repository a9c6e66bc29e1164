/**
 * Registering published bundles as AMIs: RegisterImage, DeregisterImage, and `registerOnce`, the
 * idempotent form the service uses across retries.
 *
 * `registerOnce` first looks the name up (DescribeImages, owner `self`, filter `name`): an image of
 * that name registered from the very same manifest location is adopted (an earlier attempt registered
 * it and died before recording its id); an image of that name from another location is someone else's
 * bundle, and a clear AmiNameTakenError, never a second image. When RegisterImage itself says the name
 * is taken (`InvalidAMIName.Duplicate`: an image registered in the moments between the look-up and the
 * call, or one DescribeImages did not list yet — it is eventually consistent), the name is looked up
 * once more and the same rule applies.
 */
import { DeregisterImageCommand, DescribeImagesCommand, RegisterImageCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import { AmiNameTakenError, Ec2RequestFailedError } from '@bundlefarm/errors';
import { toEc2Error, type Ec2ErrorContext } from './ec2-error-mapping.js';
import { checkRegisterImageOptions, imageLocation, type RegisterImageOptions } from './image-request.js';

/** The EC2 calls this module makes (an EC2Client, or anything with its `send`). */
export type Ec2ClientLike = Pick<EC2Client, 'send'>;

export interface Ec2CallOptions {
  /** The client's region, named in errors. */
  region?: string;
  signal?: AbortSignal;
}

/** One image of the account, as far as registration cares. */
export interface ImageSummary {
  imageId: string;
  name: string;
  /** `bucket/key` of the manifest (instance-store images). */
  imageLocation?: string;
  state?: string;
}

export interface RegisterOnceResult {
  imageId: string;
  /** True when an image registered earlier from the same manifest was found and kept. */
  adopted: boolean;
}

/** RegisterImage of an instance-store bundle; resolves with the new AMI id. */
export async function registerImage(client: Ec2ClientLike, options: RegisterImageOptions, call: Ec2CallOptions = {}): Promise<string> {
  const o = checkRegisterImageOptions(options);
  const location = imageLocation(o.manifest);
  const ctx: Ec2ErrorContext = { operation: 'RegisterImage', name: o.name, location, ...regionOf(call) };
  let out;
  try {
    out = await client.send(
      new RegisterImageCommand({
        ImageLocation: location,
        Name: o.name,
        ...(o.description !== undefined ? { Description: o.description } : {}),
        ...(o.architecture !== undefined ? { Architecture: o.architecture } : {}),
        ...(o.kernelId !== undefined ? { KernelId: o.kernelId } : {}),
        ...(o.ramdiskId !== undefined ? { RamdiskId: o.ramdiskId } : {}),
        ...(o.virtualizationType !== undefined ? { VirtualizationType: o.virtualizationType } : {}),
        ...(o.blockDeviceMappings !== undefined && o.blockDeviceMappings.length > 0
          ? { BlockDeviceMappings: o.blockDeviceMappings.map((m) => ({ DeviceName: m.device, VirtualName: m.virtual })) }
          : {}),
      }),
      abortOf(call),
    );
  } catch (err) {
    throw toEc2Error(err, ctx);
  }
  if (typeof out.ImageId !== 'string' || !/^ami-[0-9a-f]{8,17}$/.test(out.ImageId)) {
    throw new Ec2RequestFailedError('RegisterImage', `EC2 answered without an AMI id (${JSON.stringify(out.ImageId ?? null)})`, regionOf(call));
  }
  return out.ImageId;
}

/** DeregisterImage. The bundle in S3 stays (delete it with delete-bundle). */
export async function deregisterImage(client: Ec2ClientLike, imageId: string, call: Ec2CallOptions = {}): Promise<void> {
  try {
    await client.send(new DeregisterImageCommand({ ImageId: imageId }), abortOf(call));
  } catch (err) {
    throw toEc2Error(err, { operation: 'DeregisterImage', imageId, ...regionOf(call) });
  }
}

/** The account's own images named exactly `name` (DescribeImages, owner self, filter name; every page). */
export async function findOwnImagesNamed(client: Ec2ClientLike, name: string, call: Ec2CallOptions = {}): Promise<ImageSummary[]> {
  const found: ImageSummary[] = [];
  let nextToken: string | undefined;
  do {
    let out;
    try {
      out = await client.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }], ...(nextToken !== undefined ? { NextToken: nextToken } : {}) }),
        abortOf(call),
      );
    } catch (err) {
      throw toEc2Error(err, { operation: 'DescribeImages', name, ...regionOf(call) });
    }
    for (const image of out.Images ?? []) {
      const summary = summarize(image);
      // the filter takes wildcards; only the exact name counts
      if (summary?.name === name) found.push(summary);
    }
    nextToken = out.NextToken !== undefined && out.NextToken !== '' ? out.NextToken : undefined;
  } while (nextToken !== undefined);
  return found;
}

/** Registers the bundle unless an image of that name from the same manifest exists (then adopts it); see above. */
export async function registerOnce(client: Ec2ClientLike, options: RegisterImageOptions, call: Ec2CallOptions = {}): Promise<RegisterOnceResult> {
  const o = checkRegisterImageOptions(options);
  const location = imageLocation(o.manifest);
  const existing = await adoptable(client, o.name, location, call);
  if (existing !== undefined) return { imageId: existing, adopted: true };
  try {
    return { imageId: await registerImage(client, o, call), adopted: false };
  } catch (err) {
    if (!(err instanceof AmiNameTakenError)) throw err;
    const again = await adoptable(client, o.name, location, call);
    if (again !== undefined) return { imageId: again, adopted: true };
    throw err;
  }
}

/** The id of an image named `name` from `location`; AmiNameTakenError when another image holds the name. */
async function adoptable(client: Ec2ClientLike, name: string, location: string, call: Ec2CallOptions): Promise<string | undefined> {
  const images = (await findOwnImagesNamed(client, name, call)).filter((i) => i.state !== 'deregistered');
  const same = images.find((i) => i.imageLocation === location);
  if (same !== undefined) return same.imageId;
  const other = images[0];
  if (other !== undefined) {
    throw new AmiNameTakenError(name, { imageId: other.imageId, ...(other.imageLocation !== undefined ? { imageLocation: other.imageLocation } : {}) }, regionOf(call));
  }
  return undefined;
}

function summarize(image: Image): ImageSummary | undefined {
  if (typeof image.ImageId !== 'string' || typeof image.Name !== 'string') return undefined;
  return {
    imageId: image.ImageId,
    name: image.Name,
    ...(typeof image.ImageLocation === 'string' ? { imageLocation: image.ImageLocation } : {}),
    ...(typeof image.State === 'string' ? { state: image.State } : {}),
  };
}

function regionOf(call: Ec2CallOptions): { region?: string } {
  return call.region !== undefined ? { region: call.region } : {};
}

function abortOf(call: Ec2CallOptions): { abortSignal?: AbortSignal } {
  return call.signal !== undefined ? { abortSignal: call.signal } : {};
}
