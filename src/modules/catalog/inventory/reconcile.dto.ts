import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

export class ReconcileDto {
  @ApiPropertyOptional({ description: 'also destroy orphans (DLS-tagged items unknown to the database)', default: false })
  @IsOptional()
  @IsBoolean()
  removeOrphans?: boolean;
}
