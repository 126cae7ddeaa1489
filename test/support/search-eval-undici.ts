import type { LinedQuery } from './search-eval';

/**
 * The harder evaluation: questions asked in words about undici (an HTTP/1.1 and HTTP/2 client
 * with fetch, WebSocket and EventSource), written by reading its `lib/` source. Each answer is
 * a file and the line range that answers the question; any one of a question's answers counts.
 * Line numbers are those of undici 6.29.1 (asserted by the evaluation).
 */
export const UNDICI_VERSION = '6.29.1';

export const UNDICI_QUERIES: LinedQuery[] = [
  // Behaviour in plain words.
  {
    q: 'how long to wait before retrying when the server sends a Retry-After header',
    kind: 'behaviour',
    answers: [
      { path: 'lib/handler/retry-handler.js', lines: [13, 16] },
      { path: 'lib/handler/retry-handler.js', lines: [144, 200] },
    ],
  },
  {
    q: 'strip the authorization and cookie headers when a redirect goes to another origin',
    kind: 'behaviour',
    answers: [{ path: 'lib/handler/redirect-handler.js', lines: [196, 230] }],
  },
  {
    q: 'pick which resolved IP address to connect to, rotating between records',
    kind: 'behaviour',
    answers: [{ path: 'lib/interceptor/dns.js', lines: [141, 193] }],
  },
  {
    q: 'parse a set-cookie header string into name, value and attributes',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/cookies/parse.js', lines: [8, 82] }],
  },
  {
    q: 'mask the payload of an outgoing websocket frame',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/websocket/frame.js', lines: [27, 92] }],
  },
  {
    q: 'choose an upstream by weight and lower the weight of failing ones',
    kind: 'behaviour',
    answers: [{ path: 'lib/dispatcher/balanced-pool.js', lines: [81, 206] }],
  },
  {
    q: 'decode a data: URL into its MIME type and body bytes',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/fetch/data-url.js', lines: [18, 115] }],
  },
  {
    q: 'read the whole response body and parse it as JSON',
    kind: 'behaviour',
    answers: [
      { path: 'lib/api/readable.js', lines: [114, 117] },
      { path: 'lib/web/fetch/body.js', lines: [316, 424] },
    ],
  },
  {
    q: 'split a server-sent event line into field and value',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/eventsource/eventsource-stream.js', lines: [303, 379] }],
  },
  {
    q: 'reconnect the event source after the connection is lost',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/eventsource/eventsource.js', lines: [320, 363] }],
  },
  {
    q: 'discard the response body instead of reading it, up to a size limit',
    kind: 'behaviour',
    answers: [{ path: 'lib/interceptor/dump.js', lines: [7, 121] }],
  },
  {
    q: 'bypass the proxy for hosts listed in the no_proxy environment variable',
    kind: 'behaviour',
    answers: [{ path: 'lib/dispatcher/env-http-proxy-agent.js', lines: [94, 146] }],
  },
  {
    q: 'destroy the socket when the response headers take too long to arrive',
    kind: 'behaviour',
    answers: [{ path: 'lib/dispatcher/client-h1.js', lines: [693, 710] }],
  },
  {
    q: 'decompress a gzip or brotli encoded response in fetch',
    kind: 'behaviour',
    answers: [{ path: 'lib/web/fetch/index.js', lines: [2128, 2193] }],
  },
  {
    q: 'abort the response when it grows beyond the maximum allowed size',
    kind: 'behaviour',
    answers: [{ path: 'lib/dispatcher/client-h1.js', lines: [593, 623] }],
  },
  // One identifier and words.
  {
    q: 'RetryHandler resumes a partial download with the content-range of the response',
    kind: 'identifier+words',
    answers: [{ path: 'lib/handler/retry-handler.js', lines: [202, 321] }],
  },
  {
    q: 'getSetCookie returns every set-cookie value of the Headers',
    kind: 'identifier+words',
    answers: [{ path: 'lib/web/fetch/headers.js', lines: [533, 548] }],
  },
  {
    q: 'what MockAgent does when a request matches no interceptor and net connect is disabled',
    kind: 'identifier+words',
    answers: [
      { path: 'lib/mock/mock-utils.js', lines: [132, 162] },
      { path: 'lib/mock/mock-utils.js', lines: [304, 342] },
    ],
  },
  {
    q: 'kNeedDrain in the pool when every client is busy',
    kind: 'identifier+words',
    answers: [{ path: 'lib/dispatcher/pool-base.js', lines: [22, 72] }],
  },
  {
    q: 'parseHeaders lower-cases header names and joins repeated ones',
    kind: 'identifier+words',
    answers: [{ path: 'lib/core/util.js', lines: [328, 361] }],
  },
  {
    q: 'FixedCircularBuffer is full when the next index wraps around',
    kind: 'identifier+words',
    answers: [{ path: 'lib/dispatcher/fixed-queue.js', lines: [59, 117] }],
  },
  {
    q: 'ProxyAgent opens a tunnel to the origin with a CONNECT request',
    kind: 'identifier+words',
    answers: [{ path: 'lib/dispatcher/proxy-agent.js', lines: [94, 192] }],
  },
  {
    q: 'isValidHTTPToken checks each character of a method or header name',
    kind: 'identifier+words',
    answers: [{ path: 'lib/core/util.js', lines: [543, 587] }],
  },
  {
    q: 'WebSocket close with a code and a reason',
    kind: 'identifier+words',
    answers: [
      { path: 'lib/web/websocket/websocket.js', lines: [152, 198] },
      { path: 'lib/web/websocket/connection.js', lines: [220, 280] },
    ],
  },
  // Where is X decided, across files.
  {
    q: 'where is it decided whether a failed request is retried',
    kind: 'where',
    answers: [{ path: 'lib/handler/retry-handler.js', lines: [144, 200] }],
  },
  {
    q: 'where is it decided to speak HTTP/2 or HTTP/1.1 on a new connection',
    kind: 'where',
    answers: [
      { path: 'lib/dispatcher/client.js', lines: [452, 460] },
      { path: 'lib/core/connect.js', lines: [100, 115] },
    ],
  },
  {
    q: 'where is the keep-alive timeout of an idle socket decided',
    kind: 'where',
    answers: [
      { path: 'lib/dispatcher/client-h1.js', lines: [545, 565] },
      { path: 'lib/core/util.js', lines: [303, 306] },
    ],
  },
  {
    q: 'where does fetch decide that a response is a redirect to follow',
    kind: 'where',
    answers: [
      { path: 'lib/web/fetch/index.js', lines: [1107, 1208] },
      { path: 'lib/web/fetch/index.js', lines: [1210, 1352] },
    ],
  },
  {
    q: 'where is the request body length checked against the content-length header',
    kind: 'where',
    answers: [
      { path: 'lib/dispatcher/client-h1.js', lines: [1030, 1051] },
      { path: 'lib/dispatcher/client-h2.js', lines: [389, 448] },
    ],
  },
  {
    q: 'where is it decided that a request must wait because the connection is busy',
    kind: 'where',
    answers: [{ path: 'lib/dispatcher/client-h1.js', lines: [837, 872] }],
  },
  {
    q: 'where is the number of pipelined requests per connection decided',
    kind: 'where',
    answers: [
      { path: 'lib/dispatcher/client.js', lines: [68, 70] },
      { path: 'lib/dispatcher/client.js', lines: [548, 622] },
    ],
  },
  {
    q: 'where is it decided whether to follow a redirect or stop at the maximum',
    kind: 'where',
    answers: [{ path: 'lib/handler/redirect-handler.js', lines: [90, 131] }],
  },
  // Exact error messages.
  {
    q: '"Body is unusable: Body has already been read"',
    kind: 'error',
    answers: [{ path: 'lib/web/fetch/body.js', lines: [430, 488] }],
  },
  {
    q: 'Request with GET/HEAD method cannot have body.',
    kind: 'error',
    answers: [{ path: 'lib/web/fetch/request.js', lines: [503, 508] }],
  },
  {
    q: 'unsupported keepAlive, use pipelining=0 instead',
    kind: 'error',
    answers: [{ path: 'lib/dispatcher/client.js', lines: [115, 117] }],
  },
  {
    q: 'Proxy Authentication Required (407)',
    kind: 'error',
    answers: [{ path: 'lib/dispatcher/proxy-agent.js', lines: [55, 62] }],
  },
  {
    q: 'Invalid affinity. Must be either 4 or 6',
    kind: 'error',
    answers: [{ path: 'lib/interceptor/dns.js', lines: [294, 298] }],
  },
  {
    q: 'TypeError: fetch failed',
    kind: 'error',
    answers: [{ path: 'lib/web/fetch/index.js', lines: [208, 241] }],
  },
  {
    q: 'RequestRetryError: ETag mismatch',
    kind: 'error',
    answers: [{ path: 'lib/handler/retry-handler.js', lines: [262, 270] }],
  },
  {
    q: 'Received non-Uint8Array chunk',
    kind: 'error',
    answers: [{ path: 'lib/web/fetch/util.js', lines: [1120, 1124] }],
  },
  {
    q: 'SocketError: other side closed',
    kind: 'error',
    answers: [
      { path: 'lib/dispatcher/client-h1.js', lines: [760, 770] },
      { path: 'lib/dispatcher/client-h2.js', lines: [140, 150] },
      { path: 'lib/dispatcher/client-h2.js', lines: [224, 228] },
    ],
  },
  {
    q: 'Invalid utf-8 received.',
    kind: 'error',
    answers: [{ path: 'lib/web/websocket/util.js', lines: [300, 304] }],
  },
];
