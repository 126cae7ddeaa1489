import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

/** Writes files (path → content) under root, creating directories. */
export function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

export function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  });
}

export interface EmbeddingsServer {
  baseUrl: string;
  /** Every input embedded, in order of arrival. */
  inputs: string[];
  /** Authorization headers seen. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

export const EMBEDDING_DIMENSIONS = 64;

/**
 * A deterministic embedding: bag of lower-cased words hashed into buckets, so texts sharing
 * words point the same way (enough for the fusion to be observable).
 */
export function fakeEmbedding(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    vector[createHash('md5').update(word).digest().readUInt16BE(0) % dimensions] += 1;
  }
  return vector;
}

/** A loopback OpenAI-compatible POST /v1/embeddings, speaking the real wire format. */
export async function startEmbeddingsServer(
  dimensions = EMBEDDING_DIMENSIONS,
): Promise<EmbeddingsServer> {
  const inputs: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      authorizations.push(req.headers.authorization);
      const request = JSON.parse(body) as { input: string[] | string; model: string };
      const batch = Array.isArray(request.input) ? request.input : [request.input];
      inputs.push(...batch);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          model: request.model,
          data: batch.map((text, index) => ({
            object: 'embedding',
            index,
            embedding: fakeEmbedding(text, dimensions),
          })),
          usage: { prompt_tokens: batch.length, total_tokens: batch.length },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    inputs,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
