import { BadRequestException, ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import type { ValidationError, ValidatorOptions } from 'class-validator';
import {
  describeValidationErrors,
  inputProblem,
  nullErrors,
  VALIDATION_OPTIONS,
} from '../common/params-validation';

/** The global pipe: the input rule on the raw value, then the DTO, then the null rule. */
class ConveyorValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const problem = inputProblem(value);
      if (problem) throw new BadRequestException(problem);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }

  protected override async validate(
    object: object,
    validatorOptions?: ValidatorOptions,
  ): Promise<ValidationError[]> {
    const errors = await super.validate(object, validatorOptions);
    return [...nullErrors(object), ...errors];
  }
}

export function createValidationPipe(): ValidationPipe {
  return new ConveyorValidationPipe({
    ...VALIDATION_OPTIONS,
    transform: true,
    exceptionFactory: (errors) => new BadRequestException(describeValidationErrors(errors)),
  });
}
