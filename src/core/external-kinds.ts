import { BadRequestException } from '@nestjs/common';
import { ConfigError } from '../config/app-config';
import type { ExternalKindConfig } from '../config/external-kinds.config';
import type { JobKind, JsonValue } from './job.types';

export const EXTERNAL_PARAMS_MAX_BYTES = 64 * 1024;

/** An external kind's params: any JSON object; its workers define what it holds. */
export class ExternalKindParams {}

/** The JobKind of each EXTERNAL_KINDS entry; a name Conveyor already runs stops start-up. */
export function externalJobKinds(
  configs: readonly ExternalKindConfig[],
  registered: readonly JobKind[],
): JobKind[] {
  return configs.map((config) => {
    if (registered.some((kind) => kind.name === config.name)) {
      throw new ConfigError(
        'EXTERNAL_KINDS',
        `names "${config.name}", a kind Conveyor runs itself; pause its queue instead`,
      );
    }
    return {
      name: config.name,
      params: ExternalKindParams,
      external: { list: config.list, item: config.item, statusChannel: config.statusChannel },
      policies: { timeoutMs: config.timeoutMs },
    };
  });
}

/** An external kind's params are checked only for being a JSON object of ≤ 64 KiB. */
export function externalParams(raw: unknown): JsonValue {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BadRequestException('params must be a JSON object');
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  if (bytes > EXTERNAL_PARAMS_MAX_BYTES) {
    throw new BadRequestException(
      `params must be at most ${EXTERNAL_PARAMS_MAX_BYTES} bytes of JSON (got ${bytes})`,
    );
  }
  return raw as JsonValue;
}
