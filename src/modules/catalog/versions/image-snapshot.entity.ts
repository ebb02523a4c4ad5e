import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { bigintNumber } from '@database/transformers';
import { Image } from '../images/image.entity';

/**
 * An image version (table `image_snapshots`): a ZFS snapshot or a read-only file copy of the image's disk.
 * At most one version per image is published — that is what clients boot unless pinned.
 */
@Entity('image_snapshots')
@Unique('image_snapshots_image_id_name_key', ['imageId', 'name'])
@Index('idx_image_snapshots_image_id', ['imageId'])
@Index('uq_image_snapshots_published', ['imageId'], { unique: true, where: '"is_published"' })
export class ImageSnapshot {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'image_id', type: 'uuid' })
  imageId: string;

  @ManyToOne(() => Image, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'image_id', foreignKeyConstraintName: 'image_snapshots_image_id_fkey' })
  image?: Image;

  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** Where the storage driver keeps it (ZFS snapshot name or file path); null until storage has made it. */
  @Column({ name: 'storage_ref', type: 'text', nullable: true })
  storageRef: string | null;

  @Column({ name: 'size_bytes', type: 'bigint', nullable: true, transformer: bigintNumber })
  sizeBytes: number | null;

  /**
   * sha256 of the version's disk bytes, computed by the node that made it in the background right after (null until
   * then; for versions made before DLS recorded it, until their node has hashed them at its start). Another node
   * copies the version only once it is known, and boots its copy only once the copy's bytes match it.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  sha256: string | null;

  @Column({ name: 'is_published', type: 'boolean', default: false })
  isPublished: boolean;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;
}
