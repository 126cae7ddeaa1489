/**
 * The bench kinds' names, in the order `--kinds N` takes them. One kind's queue lives in one hash
 * slot; these three fall on the three masters of a 3-master cluster (slots 2933, 9845, 13908).
 */
export const BENCH_KIND_NAMES = ['bench', 'bench-x', 'bench-y'] as const;
