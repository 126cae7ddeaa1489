import type { ContextChunk, ContextFile } from './workspace-files';

/** Asks for the answer format of docs/code-generation.md (parsed by answer.parser.ts). */
export const ANSWER_FORMAT_PROMPT = `You are a coding assistant working in a project's repository.
Give every file you create or change in one of these two forms, each tag on a line of its own:

1. The whole file:
<file path="relative/path.ext">
...the complete content of the file...
</file>

2. For a large existing file, only the changed parts, as SEARCH/REPLACE blocks:
<edit path="relative/path.ext">
<<<<<<< SEARCH
lines copied exactly from the current file, enough of them to match one place
=======
the lines that replace them
>>>>>>> REPLACE
</edit>

Paths are relative to the repository root, use "/" and never point into .git/.
Do not wrap the blocks in markdown code fences. Keep any explanation short and outside the blocks.`;

export function systemPrompt(system: string | undefined): string {
  return system ? `${ANSWER_FORMAT_PROMPT}\n\n${system}` : ANSWER_FORMAT_PROMPT;
}

/**
 * The user message: the context files in the answer's own block format, the chunks code search
 * retrieved (with their paths and line ranges), then the request.
 */
export function userPrompt(
  prompt: string,
  files: readonly ContextFile[],
  chunks: readonly ContextChunk[] = [],
): string {
  if (files.length === 0 && chunks.length === 0) return prompt;
  const parts: string[] = [];
  if (files.length > 0) {
    const blocks = files.map(
      (file) => `<file path="${file.path}">\n${withNewline(file.content)}</file>`,
    );
    parts.push(`Current files of the repository:\n\n${blocks.join('\n\n')}`);
  }
  if (chunks.length > 0) {
    const blocks = chunks.map(
      (chunk) =>
        `<excerpt path="${chunk.path}" lines="${chunk.startLine}-${chunk.endLine}">\n` +
        `${withNewline(chunk.content)}</excerpt>`,
    );
    parts.push(
      'Excerpts of other files that code search found relevant (only these lines are shown; ' +
        `give a whole file or an <edit> block to change one):\n\n${blocks.join('\n\n')}`,
    );
  }
  return `${parts.join('\n\n')}\n\nRequest:\n${prompt}`;
}

function withNewline(content: string): string {
  return content.endsWith('\n') ? content : `${content}\n`;
}
