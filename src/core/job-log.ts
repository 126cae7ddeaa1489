/** A job's output kept in memory up to a cap; past it the oldest text goes and the tail stays. */
export class JobLogBuffer {
  private chunks: string[] = [];
  private bytes = 0;
  private truncated = false;
  private dirty = false;

  constructor(private readonly maxBytes: number) {}

  append(text: string): void {
    if (text === '') return;
    this.chunks.push(text);
    this.bytes += Buffer.byteLength(text);
    this.dirty = true;
    if (this.bytes > this.maxBytes) this.trim();
  }

  /** The content if it changed since the last call, else null. */
  takeChanges(): { content: string; truncated: boolean } | null {
    if (!this.dirty) return null;
    this.dirty = false;
    return { content: this.chunks.join(''), truncated: this.truncated };
  }

  private trim(): void {
    const whole = Buffer.from(this.chunks.join(''));
    let tail = whole.subarray(whole.length - this.maxBytes);
    // Do not start in the middle of a UTF-8 sequence.
    while (tail.length > 0 && (tail[0] & 0xc0) === 0x80) tail = tail.subarray(1);
    const text = tail.toString();
    this.chunks = [text];
    this.bytes = tail.length;
    this.truncated = true;
  }
}
