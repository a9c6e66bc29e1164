// One rule, one place: the API's job spec schema and the CLI's flag parsing accept and refuse the very
// same values for every field they share — name, account, architecture, region, kernel and ramdisk ids,
// block device mappings, product codes — because the schema is built from the functions the CLI calls
// (@bundlefarm/format). Checked on random values, many of them near the edges of each rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AWS_REGIONS,
  checkBundleName,
  checkImageId,
  normalizeAccountId,
  parseArchitecture,
  parseBlockDeviceMapping,
  parseProductCodes,
  partitionOfRegion,
} from '@bundlefarm/format';
import { validateJobSpec } from '@bundlefarm/queue';

const VALID = {
  name: 'root-v1',
  image: 'images/root.img',
  architecture: 'x86_64',
  accountId: '123456789012',
  identity: 'release',
  regions: [{ region: 'us-east-1', bucket: 'my-bundles' }],
};

function cliAccepts(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === undefined) throw err;
    return false;
  }
}

/** The API's answer for VALID with one field changed. */
const apiAccepts = (change: Record<string, unknown>): boolean => validateJobSpec({ ...VALID, ...change }).ok;

/** Strings near a rule's edge (its own alphabet, lengths around the limit) or anything at all. */
const edgy = (alphabet: string, maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet), maxLength }),
    fc.string({ maxLength: 12 }),
  );

/** No ',', '=' or whitespace: what survives the CLI's `a=b,c=d` syntax unchanged. */
const token = (alphabet: string, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet, '.', '/', '!', 'é'), maxLength });

const RUNS = { numRuns: 400 };

describe('the API and the CLI accept and refuse the same specs', () => {
  it('bundle name (-p)', () => {
    fc.assert(
      fc.property(fc.oneof(edgy('ab9._-', 104), fc.constantFrom('.', '..', '.hidden', 'a'.repeat(100), 'a'.repeat(101))), (name) => {
        assert.equal(apiAccepts({ name }), cliAccepts(() => checkBundleName(name)), JSON.stringify(name));
      }),
      RUNS,
    );
  });

  it('account id (-u)', () => {
    fc.assert(
      fc.property(edgy('0123456789- ', 18), (accountId) => {
        assert.equal(apiAccepts({ accountId }), cliAccepts(() => normalizeAccountId(accountId)), JSON.stringify(accountId));
      }),
      RUNS,
    );
  });

  it('architecture (-r)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom('i386', 'x86_64', 'arm64', 'X86_64', ''), fc.string({ maxLength: 8 })), (architecture) => {
        assert.equal(apiAccepts({ architecture }), cliAccepts(() => parseArchitecture(architecture)), architecture);
      }),
      RUNS,
    );
  });

  it('region (--region: a region name; the CLI also takes a partition name, which is no target)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...AWS_REGIONS, 'us-gov-west-1', 'us-gov-east-1', 'cn-north-1', 'cn-northwest-1', 'mars-east-1', 'US-EAST-1'), fc.string({ maxLength: 14 })), (region) => {
        assert.equal(apiAccepts({ regions: [{ region, bucket: 'my-bundles' }] }), cliAccepts(() => partitionOfRegion(region)), region);
      }),
      RUNS,
    );
  });

  it('kernel and ramdisk ids (--kernel, --ramdisk)', () => {
    const id = fc.oneof(fc.tuple(fc.constantFrom('aki-', 'ari-', 'ami-', 'aki', ''), fc.string({ unit: fc.constantFrom(...'0123456789abcdefAG'), maxLength: 18 })).map(([p, h]) => p + h), fc.string({ maxLength: 10 }));
    fc.assert(
      fc.property(id, (value) => {
        assert.equal(apiAccepts({ regions: [{ region: 'us-east-1', bucket: 'my-bundles', kernelId: value }] }), cliAccepts(() => checkImageId(value, 'aki', '--kernel')), value);
        assert.equal(apiAccepts({ regions: [{ region: 'us-east-1', bucket: 'my-bundles', ramdiskId: value }] }), cliAccepts(() => checkImageId(value, 'ari', '--ramdisk')), value);
      }),
      RUNS,
    );
  });

  it('block device mappings (-B virtual=device,…), duplicates and limits included', () => {
    const virtual = fc.oneof(fc.constantFrom('root', 'ami', 'ephemeral0', 'swap'), token('abZ09_-', 34));
    const device = fc.oneof(fc.constantFrom('/dev/sda1', 'sda1', 'sdb'), token('abZ09_-/', 66));
    fc.assert(
      fc.property(fc.array(fc.record({ virtual, device }), { maxLength: 34 }), (mappings) => {
        const flag = mappings.map((m) => `${m.virtual}=${m.device}`).join(',');
        // the CLI drops empty items ("a=b,,c=d"): an empty virtual=device pair is never an empty item
        assert.equal(apiAccepts({ blockDeviceMapping: mappings }), cliAccepts(() => parseBlockDeviceMapping(flag)), flag);
      }),
      RUNS,
    );
  });

  it('product codes (--productcodes A,B)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom('ABCD1234', 'x'.repeat(64), 'x'.repeat(65)), token('AZaz09', 66).filter((s) => s.length > 0)), { maxLength: 18 }), (codes) => {
        assert.equal(apiAccepts({ productCodes: codes }), cliAccepts(() => parseProductCodes(codes.join(','))), codes.join(','));
      }),
      RUNS,
    );
  });
});
