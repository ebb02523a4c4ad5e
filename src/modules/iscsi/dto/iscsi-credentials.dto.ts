import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class IscsiPortalDto {
  @ApiProperty({ example: '0.0.0.0', description: 'where tgtd listens (DLS_ISCSI_PORTAL; 0.0.0.0 = every address)' }) address: string;
  @ApiProperty({ example: 3260 }) port: number;
}

/** What an initiator needs to log in to a client's disk (admin only: it carries the boot's CHAP secret). */
export class IscsiCredentialsDto {
  @ApiProperty() targetIqn: string;
  @ApiProperty() initiatorIqn: string;
  @ApiProperty() chapUser: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: "the open boot's CHAP secret; null when the client has no open boot session" })
  chapSecret: string | null;
  @ApiProperty({ type: IscsiPortalDto }) portal: IscsiPortalDto;
  @ApiProperty({ example: 1, description: 'always 1 (LUN 0 is the controller)' }) lun: number;
  @ApiProperty({ description: "tgt's target id" }) tid: number;
  @ApiProperty({ description: 'the disk tgt exports' }) backingPath: string;
}
