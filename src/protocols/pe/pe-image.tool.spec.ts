import { readFileSync } from 'node:fs';
import { readPeImage } from './pe-image';

/**
 * The reader against the real files DLS deals with, from Debian's packages (.ci/run installs them): the
 * Microsoft-signed shim, Debian-signed GRUB, and iPXE's unsigned EFI and BIOS loaders.
 */
describe('readPeImage on Debian loaders', () => {
  it('shim-signed and grub-efi-amd64-signed are signed x64 EFI applications', () => {
    for (const f of ['/usr/lib/shim/shimx64.efi.signed', '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed']) {
      expect({ f, ...readPeImage(readFileSync(f)) }).toMatchObject({ f, platform: 'x64', efiApplication: true, signed: true });
    }
  });

  it("Debian's ipxe.efi is an unsigned x64 EFI application; undionly.kpxe is not a PE image", () => {
    expect(readPeImage(readFileSync('/usr/lib/ipxe/ipxe.efi'))).toMatchObject({ platform: 'x64', efiApplication: true, signed: false });
    expect(() => readPeImage(readFileSync('/usr/lib/ipxe/undionly.kpxe'))).toThrow(/MZ/);
  });
});
