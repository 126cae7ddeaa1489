import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { instanceToPlain, plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import type { Type } from '@nestjs/common';

/** "params.files.0.path must be a string; priority must be one of …": every field, and why. */
export function describeValidationErrors(errors: ValidationError[], prefix = ''): string {
  const lines: string[] = [];
  const walk = (list: ValidationError[], path: string) => {
    for (const error of list) {
      const field = path ? `${path}.${error.property}` : error.property;
      for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
        if (constraint === 'whitelistValidation') lines.push(`${field} is not an allowed property`);
        else if (message.startsWith(error.property)) {
          lines.push(`${field}${message.slice(error.property.length)}`);
        } else lines.push(`${field}: ${message}`);
      }
      walk(error.children ?? [], field);
    }
  };
  walk(errors, prefix);
  return lines.join('; ');
}

export const VALIDATION_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...VALIDATION_OPTIONS,
    transform: true,
    exceptionFactory: (errors) => new BadRequestException(describeValidationErrors(errors)),
  });
}

/** Validates a kind's params against its DTO; returns the plain, validated value. */
export async function validateParams<P extends object>(
  type: Type<P>,
  raw: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const instance = plainToInstance(type, raw);
  const errors = await validate(instance, VALIDATION_OPTIONS);
  if (errors.length > 0) throw new BadRequestException(describeValidationErrors(errors, 'params'));
  return instanceToPlain(instance);
}
