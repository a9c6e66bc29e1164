/*
 * The /etc/fstab written into an image with --generate-fstab: the root filesystem by the UUID the
 * builder gave it, which holds whatever the device is called on the instance (xvda1, nvme0n1p1, sda1).
 */
export function generatedFstab(uuid: string): string {
  return [
    '# /etc/fstab: written by bundlefarm bundle-vol --generate-fstab',
    '# <file system>                              <mount point>  <type>  <options>                  <dump>  <pass>',
    `UUID=${uuid}  /              ext4    defaults,errors=remount-ro  0       1`,
    '',
  ].join('\n');
}
