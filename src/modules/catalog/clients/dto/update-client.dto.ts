import { PartialType } from '@nestjs/swagger';
import { CreateClientDto } from './create-client.dto';

/** Body of `PATCH /clients/:id`: any subset of the create fields; `null` clears an optional one. */
export class UpdateClientDto extends PartialType(CreateClientDto) {}
