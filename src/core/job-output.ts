/** The most output one event carries (docs/streamed-output.md); more is split over events. */
export const OUTPUT_EVENT_MAX_BYTES = 64 * 1024;

/** Where a UTF-8 buffer can be cut at or before `end` without splitting a character. */
function boundary(bytes: Buffer, end: number): number {
  let cut = Math.min(end, bytes.length);
  while (cut > 0 && cut < bytes.length && (bytes[cut] & 0xc0) === 0x80) cut -= 1;
  return cut;
}

/** The text cut into pieces of at most maxBytes of UTF-8 each, never inside a character. */
export function utf8Pieces(text: string, maxBytes: number): string[] {
  if (text === '') return [];
  // Each UTF-16 unit is at most 3 bytes of UTF-8: short texts need no encoding.
  if (text.length * 3 <= maxBytes) return [text];
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return [text];
  const pieces: string[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = boundary(bytes, start + maxBytes);
    // A character longer than maxBytes (only with a tiny maxBytes) goes whole.
    if (end === start) end = boundary(bytes, start + 4);
    pieces.push(bytes.subarray(start, end).toString());
    start = end;
  }
  return pieces;
}

/** The longest start of the text that fits in maxBytes of UTF-8, never cut inside a character. */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  return bytes.subarray(0, boundary(bytes, maxBytes)).toString();
}

/**
 * How much of one attempt's output is streamed: the first `maxBytes` (the log cap), exactly; past
 * it nothing more, so a runaway process cannot grow the event table without bound. The stored log
 * keeps the tail instead.
 */
export class OutputBudget {
  private left: number;

  constructor(maxBytes: number) {
    this.left = maxBytes;
  }

  /** The part of the text still within the budget ('' once it is spent). */
  admit(text: string): string {
    if (this.left <= 0 || text === '') return '';
    const admitted = utf8Prefix(text, this.left);
    this.left = admitted === text ? this.left - Buffer.byteLength(text) : 0;
    return admitted;
  }

  get exhausted(): boolean {
    return this.left <= 0;
  }
}

/** One job's output not yet written to an event. Appending is cheap; the join happens on take. */
export class PendingOutput {
  private chunks: string[] = [];

  append(text: string): void {
    if (text !== '') this.chunks.push(text);
  }

  /** Everything pending, in event-sized pieces. */
  take(): string[] {
    if (this.chunks.length === 0) return [];
    const text = this.chunks.length === 1 ? this.chunks[0] : this.chunks.join('');
    this.chunks = [];
    return utf8Pieces(text, OUTPUT_EVENT_MAX_BYTES);
  }

  /** Puts pieces that could not be written back in front of what came since. */
  restore(pieces: string[]): void {
    if (pieces.length > 0) this.chunks.unshift(...pieces);
  }
}
