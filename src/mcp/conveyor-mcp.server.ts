import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  getLiteralValue,
  getObjectShape,
  getParseErrorMessage,
  safeParse,
  type AnyObjectSchema,
  type SchemaOutput,
} from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  ErrorCode,
  McpError,
  type Notification,
  type Request,
  type Result,
  type ServerNotification,
  type ServerRequest,
  type ServerResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

// The base class's own (default) type arguments, so the override matches its signature.
type Extra = RequestHandlerExtra<ServerRequest | Request, ServerNotification | Notification>;

/**
 * The SDK's Server, except that a request whose params do not match its method's schema is
 * refused with InvalidParams (-32602) naming the field. The SDK parses params before calling a
 * handler and lets the ZodError out, which goes back as InternalError (-32603): a client could
 * not tell `tools/call` with `arguments: "x"` from a server fault. Every handler, the SDK's own
 * (ping, tasks/*, logging/setLevel) included, is registered through here: the SDK sees a schema
 * that only names the method, and the real schema is checked in front of the handler.
 */
export class ConveyorMcpServer extends Server {
  override setRequestHandler<T extends AnyObjectSchema>(
    requestSchema: T,
    handler: (
      request: SchemaOutput<T>,
      extra: Extra,
    ) => ServerResult | Result | Promise<ServerResult | Result>,
  ): void {
    const methodSchema = getObjectShape(requestSchema)?.method;
    const method = methodSchema === undefined ? undefined : getLiteralValue(methodSchema);
    if (typeof method !== 'string') {
      super.setRequestHandler(requestSchema, handler);
      return;
    }
    const methodOnly = z.looseObject({ method: z.literal(method) });
    super.setRequestHandler(methodOnly, (request, extra) => {
      const parsed = safeParse(requestSchema, request);
      if (!parsed.success) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Invalid ${method} request: ${getParseErrorMessage(parsed.error)}`,
        );
      }
      return handler(parsed.data, extra);
    });
  }
}
