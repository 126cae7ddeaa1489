import {
  BadRequestException,
  ValidationPipe,
  type ArgumentMetadata,
  type Type,
} from '@nestjs/common';
import type { ValidationError, ValidatorOptions } from 'class-validator';
import { compiledDto, REFUSED } from '../common/compiled-validation';
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
    // The compiled check vouches for a valid value with what the pipe would return (the options
    // below are the ones it models); any other value takes the pipe's own path, messages and all.
    const metatype = metadata.metatype as Type<object> | undefined;
    if (metatype && this.toValidate(metadata)) {
      const instance = compiledDto(metatype)?.instance(value) ?? REFUSED;
      if (instance !== REFUSED) return instance;
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
