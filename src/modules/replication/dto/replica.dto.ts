import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { REPLICA_STATES } from '../version-replica.entity';
import type { ReplicaView } from '../replication.service';

/** `GET /replication` filters. */
export class ListReplicasQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'one version' })
  @IsOptional()
  @IsUUID()
  versionId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'one node' })
  @IsOptional()
  @IsUUID()
  nodeId?: string;
}

/** An image version on one node. */
export class ReplicaResponseDto {
  @ApiProperty({ format: 'uuid' }) versionId: string;
  @ApiProperty({ example: 'v3' }) version: string;
  @ApiProperty({ format: 'uuid' }) imageId: string;
  @ApiProperty({ example: 'win11-lab' }) image: string;
  @ApiProperty({ format: 'uuid' }) nodeId: string;
  @ApiProperty({ example: 'dls-b' }) node: string;
  @ApiProperty({
    enum: [...REPLICA_STATES, 'missing'],
    description:
      'verified: the node holds it and its bytes match the sha256 recorded when it was made: it boots clients from it; copying/verifying: on its way; failed: retried later (see error); missing: not on that node',
  })
  state: string;
  @ApiProperty({ type: String, nullable: true, enum: ['local', 'raw', 'zfs-full', 'zfs-incremental'], description: 'local: made on that node' })
  method: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'the node it was copied from' }) sourceNode: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'uuid', description: 'the version an incremental ZFS stream was relative to' })
  baseVersionId: string | null;
  @ApiProperty({ description: 'bytes received (the stream: a ZFS incremental is the changed blocks only)' }) bytesCopied: number;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 of the bytes on that node, once checked' }) sha256: string | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty() attempts: number;
  @ApiProperty({ type: Date, nullable: true }) startedAt: Date | null;
  @ApiProperty({ type: Date, nullable: true }) finishedAt: Date | null;

  static from(r: ReplicaView): ReplicaResponseDto {
    return Object.assign(new ReplicaResponseDto(), r);
  }
}
