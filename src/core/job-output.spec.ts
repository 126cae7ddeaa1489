import { OUTPUT_EVENT_MAX_BYTES, OutputBudget, PendingOutput, utf8Pieces } from './job-output';

const bytes = (text: string) => Buffer.byteLength(text);

describe('utf8Pieces', () => {
  it('keeps a short text whole', () => {
    expect(utf8Pieces('héllo', 16)).toEqual(['héllo']);
    expect(utf8Pieces('', 16)).toEqual([]);
  });

  it('cuts at character boundaries, each piece within the bound, nothing lost', () => {
    const text = 'aé€😀'.repeat(1000);
    for (const max of [4, 5, 7, 64, 1000]) {
      const pieces = utf8Pieces(text, max);
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) {
        expect(bytes(piece)).toBeLessThanOrEqual(max);
        expect(piece).not.toContain('\uFFFD');
      }
    }
  });
});

describe('OutputBudget', () => {
  it('admits exactly up to the cap, cut at a character, then nothing', () => {
    const budget = new OutputBudget(10);
    expect(budget.admit('abcd')).toBe('abcd');
    expect(budget.admit('€€€')).toBe('€€');
    expect(budget.exhausted).toBe(true);
    expect(budget.admit('x')).toBe('');
  });
});

describe('PendingOutput', () => {
  it('hands out what was appended, in 64 KiB pieces, and takes back what was not written', () => {
    const pending = new PendingOutput();
    const big = 'ü'.repeat(OUTPUT_EVENT_MAX_BYTES);
    pending.append('start ');
    pending.append(big);
    const pieces = pending.take();
    expect(pieces.length).toBe(3);
    expect(pieces.join('')).toBe(`start ${big}`);
    expect(pending.take()).toEqual([]);
    pending.append('later');
    pending.restore(pieces.slice(1));
    expect(pending.take().join('')).toBe(`${pieces.slice(1).join('')}later`);
  });
});
