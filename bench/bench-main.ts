import { bootstrap } from '../src/main';
import { benchKind } from './bench.kind';

// The service as production runs it, plus one bench-only kind registered through the public API.
void bootstrap({ extraKinds: [benchKind] });
