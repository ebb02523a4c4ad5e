import { PartialType } from '@nestjs/swagger';
import { CreateImageDto } from './create-image.dto';

/** Body of `PATCH /images/:id`: any subset of the create fields; `null` clears an optional one. */
export class UpdateImageDto extends PartialType(CreateImageDto) {}
