import { bootstrap } from '../../src/main';
import { echoKind } from './test-kinds';

void bootstrap({ extraKinds: [echoKind] });
