import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthUser } from './jwt.service';

export const IS_PUBLIC = 'conveyor:public';
export const REQUIRED_ROLE = 'conveyor:role';

export const Public = () => SetMetadata(IS_PUBLIC, true);
export const RequireRole = (role: string) => SetMetadata(REQUIRED_ROLE, role);

export type AuthenticatedRequest = FastifyRequest & { user: AuthUser };

export const CurrentUser = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthUser =>
    ctx.switchToHttp().getRequest<AuthenticatedRequest>().user,
);
