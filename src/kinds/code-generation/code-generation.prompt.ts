import type { ContextFile } from './workspace-files';

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

/** The user message: the context files in the answer's own block format, then the request. */
export function userPrompt(prompt: string, files: readonly ContextFile[]): string {
  if (files.length === 0) return prompt;
  const blocks = files.map((file) => {
    const body = file.content.endsWith('\n') ? file.content : `${file.content}\n`;
    return `<file path="${file.path}">\n${body}</file>`;
  });
  return `Current files of the repository:\n\n${blocks.join('\n\n')}\n\nRequest:\n${prompt}`;
}
