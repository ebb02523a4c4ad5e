import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn, VersionColumn } from 'typeorm';

/** The CPUs an operator can give signed loaders for (PE machine types x64, AArch64, IA32). */
export const SIGNED_LOADER_PLATFORMS = ['x64', 'arm64', 'ia32'] as const;
export type SignedLoaderPlatform = (typeof SIGNED_LOADER_PLATFORMS)[number];

/**
 * A signed EFI program an operator provided for Secure Boot clients of one CPU: a shim (signed by Microsoft) and the
 * loader that shim starts from its own directory (e.g. iPXE's signed `ipxe.efi`, for images that `sanboot`). The bytes
 * live in the boot files root at `signed/<platform>/<name>`; this row records what was checked at upload. The one
 * `entry` file per CPU is what DHCP hands a Secure Boot client of that CPU (before Debian's own shim → GRUB chain).
 */
@Entity('signed_loader_files')
@Unique('signed_loader_files_platform_name_key', ['platform', 'name'])
@Check('signed_loader_files_platform_check', `"platform" IN ('x64', 'arm64', 'ia32')`)
@Index('uq_signed_loader_files_entry', ['platform'], { unique: true, where: '"entry"' })
export class SignedLoaderFile {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 8 })
  platform: SignedLoaderPlatform;

  /** File name in `signed/<platform>/` (the name the shim looks for, for a second stage). */
  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'char', length: 64 })
  sha256: string;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes: number;

  /** DHCP hands this file to the CPU's Secure Boot clients (at most one per CPU). */
  @Column({ type: 'boolean', default: false })
  entry: boolean;

  /** Row version: the ETag (`If-Match` on PATCH edits exactly this version). */
  @VersionColumn({ default: 1 })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
