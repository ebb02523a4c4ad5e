import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../database/transformers';

export const IMAGE_FORMATS = ['raw', 'qcow2', 'vhdx'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** A golden disk image (table `images`, as in the original schema design). */
@Entity('images')
@Unique('images_name_key', ['name'])
@Check('images_size_bytes_check', '"size_bytes" > 0')
@Check('images_format_check', `"format" IN ('raw', 'qcow2', 'vhdx')`)
@Index('idx_images_name', ['name'])
@Index('idx_images_os_type', ['osType'])
@Index('idx_images_is_template', ['isTemplate'])
export class Image {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'os_type', type: 'varchar', length: 100, nullable: true })
  osType: string | null;

  @Column({ name: 'size_bytes', type: 'bigint', transformer: bigintNumber })
  sizeBytes: number;

  @Column({ type: 'varchar', length: 20 })
  format: ImageFormat;

  @Column({ type: 'text' })
  path: string;

  @Column({ name: 'zfs_dataset', type: 'varchar', length: 255, nullable: true })
  zfsDataset: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @Column({ type: 'jsonb', nullable: true })
  tags: string[] | null;

  @Column({ name: 'is_template', type: 'boolean', default: false })
  isTemplate: boolean;

  @Column({ name: 'parent_image_id', type: 'uuid', nullable: true })
  parentImageId: string | null;

  @ManyToOne(() => Image, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'parent_image_id', foreignKeyConstraintName: 'images_parent_image_id_fkey' })
  parentImage?: Image | null;
}
