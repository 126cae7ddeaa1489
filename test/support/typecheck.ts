import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

// The package's exports map hides bin/; its folder is found through package.json.
const CLI = join(dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js');

/** openapi-typescript's own CLI (ESM inside; Jest cannot load it) on an OpenAPI document. */
export async function generateTypes(document: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-openapi-ts-'));
  try {
    await writeFile(join(dir, 'openapi.json'), JSON.stringify(document));
    await promisify(execFile)(process.execPath, [CLI, 'openapi.json', '-o', 'api.ts'], {
      cwd: dir,
      timeout: 60_000,
    });
    return await readFile(join(dir, 'api.ts'), 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TypecheckResult {
  /** Diagnostics per file name (the key given in `files`), as text. */
  readonly errors: Record<string, string[]>;
}

/** Type-checks a few TypeScript files together, strict, in a temporary directory. */
export async function typecheck(files: Record<string, string>): Promise<TypecheckResult> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-typecheck-'));
  try {
    const paths = await Promise.all(
      Object.entries(files).map(async ([name, text]) => {
        const path = join(dir, name);
        await writeFile(path, text);
        return [name, path] as const;
      }),
    );
    const program = ts.createProgram(
      paths.map(([, path]) => path),
      {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        lib: ['lib.es2022.d.ts'],
        types: [],
        skipLibCheck: false,
        exactOptionalPropertyTypes: false,
      },
    );
    const errors: Record<string, string[]> = {};
    for (const [name, path] of paths) {
      const source = program.getSourceFile(path);
      errors[name] = ts
        .getPreEmitDiagnostics(program, source)
        .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    }
    return { errors };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
