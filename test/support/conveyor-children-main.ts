import { bootstrap } from '../../src/main';
import { countedKind, stepsKind } from './child-kinds';

void bootstrap({ extraKinds: [countedKind, stepsKind] });
