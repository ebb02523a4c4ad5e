import { BadRequestException, ForbiddenException } from '@nestjs/common';
import { createValidationPipe } from '../validation';
import { DomainErrorFilter } from './domain-error.filter';

class Body {}

describe('DomainErrorFilter', () => {
  const filter = new DomainErrorFilter();

  it("keeps the validation pipe's details.fields, so a form can show each problem by its field", async () => {
    const { IsString, MaxLength } = await import('class-validator');
    class Dto {
      @IsString() @MaxLength(3) name!: string;
    }
    const pipe = createValidationPipe();
    const err = await pipe.transform({ name: 'toolong' }, { type: 'body', metatype: Dto }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestException);
    const body = filter.toBody(err);
    expect(body).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      details: { fields: [{ field: 'name', messages: [expect.stringContaining('name')] }] },
    });
  });

  it('an HttpException without details gets none', () => {
    expect(filter.toBody(new ForbiddenException('no')).details).toBeUndefined();
    expect(filter.toBody(new BadRequestException(new Body())).statusCode).toBe(400);
  });
});
