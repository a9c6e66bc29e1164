// Every element and attribute a 2007-10-10 manifest may hold, where, and how many times: the union of
// what ec2-ami-tools 1.5.3 (`manifestv20071010.rb`), euca2ools and Go's aws_bundle write (bundle-format.md
// §3.2, §8). Order is not checked (euca2ools orders <machine_configuration> differently); anything else is
// refused by the reader (manifest-xml.ts).
import type { ChildRule, ElementRule } from './manifest-xml.js';
import { MAX_PART_COUNT } from './part-naming.js';

/** Most entries of the small lists (block device mappings, product codes, ancestors). */
export const MAX_LIST_ENTRIES = 256;

const text = (attributes: readonly string[] = []): ElementRule => ({ leaf: true, attributes });
const one = (rule: ElementRule): ChildRule => ({ rule, max: 1 });
const list = (rule: ElementRule, max = MAX_LIST_ENTRIES, why?: string): ChildRule => ({ rule, max, ...(why ? { why } : {}) });

const ALGORITHM = ['algorithm'];

export const MANIFEST_SCHEMA: ElementRule = {
  children: {
    version: one(text()),
    bundler: one({ children: { name: one(text()), version: one(text()), release: one(text()) } }),
    machine_configuration: one({
      children: {
        architecture: one(text()),
        block_device_mapping: one({ children: { mapping: list({ children: { virtual: one(text()), device: one(text()) } }) } }),
        kernel_id: one(text()),
        ramdisk_id: one(text()),
        product_codes: one({ children: { product_code: list(text()) } }),
      },
    }),
    image: one({
      children: {
        name: one(text()),
        user: one(text()),
        type: one(text()),
        kernel_name: one(text()),
        ancestry: one({ children: { ancestor_ami_id: list(text()) } }),
        digest: one(text(ALGORITHM)),
        size: one(text()),
        bundled_size: one(text()),
        ec2_encrypted_key: one(text(ALGORITHM)),
        user_encrypted_key: one(text(ALGORITHM)),
        ec2_encrypted_iv: one(text()),
        user_encrypted_iv: one(text()),
        parts: one({
          attributes: ['count'],
          children: {
            part: list(
              { attributes: ['index'], children: { filename: one(text()), digest: one(text(ALGORITHM)) } },
              MAX_PART_COUNT,
              `an image within the 10 GiB limit needs at most ${MAX_PART_COUNT - 1} parts of 10 MiB, plus a trailing empty one`,
            ),
          },
        }),
      },
    }),
    signature: one(text()),
  },
};
