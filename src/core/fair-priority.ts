import { PRIORITIES } from './job.types';

/** Each class owns a band this wide; a user's backlog depth orders jobs within it. */
export const FAIR_BAND = 2 ** 19;

const CLASSES: readonly number[] = Object.values(PRIORITIES);

/**
 * The BullMQ priority of a job (docs/job-policies.md, "Fair dispatch"): its class first, then
 * how many jobs of its user and kind were waiting when it was queued, itself included. Never 0,
 * which BullMQ reads as "no priority" and serves before every prioritized job; at most 2^21 - 1.
 */
export function fairPriority(classPriority: number, depth: number): number {
  const known = CLASSES.indexOf(classPriority);
  const band = known >= 0 ? known : CLASSES.indexOf(PRIORITIES.medium);
  return 1 + band * FAIR_BAND + Math.min(Math.max(depth, 1), FAIR_BAND - 2);
}
