import { bootstrap } from '../src/main';
import { benchKinds } from './bench.kind';

// The service as production runs it, plus bench-only kinds registered through the public API.
void bootstrap({ extraKinds: benchKinds(Number(process.env.BENCH_KINDS ?? 1)) });
