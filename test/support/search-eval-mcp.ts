import type { LinedQuery } from './search-eval';

/**
 * A held-out check, never used to tune the search: questions about the MCP TypeScript SDK's
 * compiled CommonJS (`dist/cjs`, 87 files), written after the ranking was settled, of the same
 * four sorts as the undici set. Line numbers are those of version 1.32.2 (asserted).
 */
export const MCP_SDK_VERSION = '1.32.2';

export const MCP_QUERIES: LinedQuery[] = [
  {
    q: 'how long to wait before reconnecting the event stream, growing exponentially up to a maximum',
    kind: 'behaviour',
    answers: [{ path: 'client/streamableHttp.js', lines: [138, 148] }],
  },
  {
    q: 'give up reconnecting after too many attempts',
    kind: 'behaviour',
    answers: [{ path: 'client/streamableHttp.js', lines: [156, 175] }],
  },
  {
    q: 'restart the timer of a request when a progress notification arrives',
    kind: 'behaviour',
    answers: [
      { path: 'shared/protocol.js', lines: [195, 210] },
      { path: 'shared/protocol.js', lines: [456, 480] },
    ],
  },
  {
    q: 'which well-known URLs are tried to find the authorization server metadata',
    kind: 'behaviour',
    answers: [{ path: 'client/auth.js', lines: [664, 720] }],
  },
  {
    q: 'reject a request whose session id is not the session of this transport',
    kind: 'behaviour',
    answers: [{ path: 'server/webStandardStreamableHttp.js', lines: [740, 776] }],
  },
  {
    q: 'add a PKCE code challenge to the authorization URL',
    kind: 'behaviour',
    answers: [{ path: 'client/auth.js', lines: [806, 869] }],
  },
  {
    q: 'get a new access token using the refresh token',
    kind: 'behaviour',
    answers: [{ path: 'client/auth.js', lines: [932, 973] }],
  },
  {
    q: 'UriTemplate match extracts the variables of a URI',
    kind: 'identifier+words',
    answers: [{ path: 'shared/uriTemplate.js', lines: [205, 242] }],
  },
  {
    q: 'McpServer refuses a tool whose name is already registered',
    kind: 'identifier+words',
    answers: [{ path: 'server/mcp.js', lines: [714, 762] }],
  },
  {
    q: 'where does the client check that the server supports a capability before a request',
    kind: 'where',
    answers: [{ path: 'client/index.js', lines: [273, 380] }],
  },
  {
    q: 'where is the protocol version chosen when a client initializes',
    kind: 'where',
    answers: [
      { path: 'server/index.js', lines: [260, 272] },
      { path: 'client/index.js', lines: [285, 300] },
    ],
  },
  {
    q: 'Already connected to a transport. Call close() before connecting to a new transport',
    kind: 'error',
    answers: [{ path: 'shared/protocol.js', lines: [220, 228] }],
  },
  {
    q: 'Bad Request: Mcp-Session-Id header is required',
    kind: 'error',
    answers: [{ path: 'server/webStandardStreamableHttp.js', lines: [752, 757] }],
  },
  {
    q: 'McpError: Maximum total timeout exceeded',
    kind: 'error',
    answers: [{ path: 'shared/protocol.js', lines: [195, 210] }],
  },
  {
    q: '"Stateless transport cannot be reused across requests."',
    kind: 'error',
    answers: [{ path: 'server/webStandardStreamableHttp.js', lines: [178, 182] }],
  },
  {
    q: 'Schema is missing a method literal',
    kind: 'error',
    answers: [
      { path: 'server/mcp.js', lines: [948, 960] },
      { path: 'client/index.js', lines: [174, 182] },
    ],
  },
];
