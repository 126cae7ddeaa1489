import { FAIR_BAND, fairPriority } from './fair-priority';
import { PRIORITIES } from './job.types';

describe('fairPriority', () => {
  it('is never 0 and never above the 2^21 BullMQ accepts', () => {
    expect(fairPriority(PRIORITIES.critical, 1)).toBe(2);
    expect(fairPriority(PRIORITIES.critical, 0)).toBe(2);
    expect(fairPriority(PRIORITIES.low, Number.MAX_SAFE_INTEGER)).toBe(2 ** 21 - 1);
  });

  it('puts every class before the next, whatever the depths', () => {
    const order = [PRIORITIES.critical, PRIORITIES.high, PRIORITIES.medium, PRIORITIES.low];
    for (let i = 1; i < order.length; i += 1) {
      expect(fairPriority(order[i - 1], 10 ** 9)).toBeLessThan(fairPriority(order[i], 1));
    }
  });

  it('orders jobs of one class by the backlog depth, capped inside the band', () => {
    expect(fairPriority(PRIORITIES.medium, 1)).toBeLessThan(fairPriority(PRIORITIES.medium, 2));
    expect(fairPriority(PRIORITIES.medium, 1)).toBe(1 + 2 * FAIR_BAND + 1);
    expect(fairPriority(PRIORITIES.medium, FAIR_BAND)).toBe(
      fairPriority(PRIORITIES.medium, FAIR_BAND - 2),
    );
  });

  it('treats an unknown class as medium', () => {
    expect(fairPriority(3, 7)).toBe(fairPriority(PRIORITIES.medium, 7));
  });
});
