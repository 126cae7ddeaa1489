import { JobLogBuffer } from './job-log';

describe('JobLogBuffer', () => {
  it('keeps everything under the cap and reports each change once', () => {
    const log = new JobLogBuffer(1024);
    expect(log.takeChanges()).toBeNull();
    log.append('line 1\n');
    log.append('line 2\n');
    expect(log.takeChanges()).toEqual({ content: 'line 1\nline 2\n', truncated: false });
    expect(log.takeChanges()).toBeNull();
    log.append('');
    expect(log.takeChanges()).toBeNull();
    log.append('line 3\n');
    expect(log.takeChanges()).toEqual({ content: 'line 1\nline 2\nline 3\n', truncated: false });
  });

  it('keeps exactly the cap without marking it truncated', () => {
    const log = new JobLogBuffer(10);
    log.append('0123456789');
    expect(log.takeChanges()).toEqual({ content: '0123456789', truncated: false });
  });

  it('keeps the tail past the cap and marks the log truncated from then on', () => {
    const log = new JobLogBuffer(20);
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i}\n`);
    for (const line of lines) log.append(line);
    const changes = log.takeChanges();
    expect(changes?.truncated).toBe(true);
    expect(changes?.content).toBe(lines.join('').slice(-20));
    expect(changes?.content.endsWith('line 9\n')).toBe(true);

    log.append('end\n');
    const later = log.takeChanges();
    expect(later).toEqual({ content: `${lines.join('')}end\n`.slice(-20), truncated: true });
  });

  it('keeps the tail of a single append larger than the cap', () => {
    const log = new JobLogBuffer(8);
    log.append('abcdefghijklmnop');
    expect(log.takeChanges()).toEqual({ content: 'ijklmnop', truncated: true });
  });

  it('never starts the tail in the middle of a UTF-8 sequence', () => {
    // "é" is 2 bytes, "€" 3, "😀" 4: cut at every possible byte offset.
    const text = 'aé€😀b'.repeat(5);
    const bytes = Buffer.byteLength(text);
    for (let cap = 1; cap <= bytes; cap += 1) {
      const log = new JobLogBuffer(cap);
      log.append(text);
      const changes = log.takeChanges();
      const content = changes?.content ?? '';
      expect(content).not.toContain('\uFFFD');
      expect(Buffer.byteLength(content)).toBeLessThanOrEqual(cap);
      expect(text.endsWith(content)).toBe(true);
      // It drops at most the bytes of one partial character.
      expect(Buffer.byteLength(content)).toBeGreaterThan(cap - 4);
      expect(changes?.truncated).toBe(cap < bytes);
    }
  });

  it('stays within the cap over many appends of multi-byte text', () => {
    const log = new JobLogBuffer(100);
    let all = '';
    for (let i = 0; i < 500; i += 1) {
      const chunk = `${i}:ü€😀\n`;
      all += chunk;
      log.append(chunk);
      const content = log.takeChanges()?.content ?? '';
      expect(Buffer.byteLength(content)).toBeLessThanOrEqual(100);
      expect(content).not.toContain('\uFFFD');
      expect(all.endsWith(content)).toBe(true);
    }
  });
});
