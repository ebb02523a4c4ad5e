import { PartialType } from '@nestjs/swagger';
import { CreateClientGroupDto } from './create-client-group.dto';

/** Body of `PATCH /client-groups/:id`: any subset; null clears a setting. Changing imageId drops a pin of the old image. */
export class UpdateClientGroupDto extends PartialType(CreateClientGroupDto) {}
