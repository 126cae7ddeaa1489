import { bootstrap } from '../../src/main';
import { echoKind } from './test-kinds';
import { workspaceEchoKind } from './workspace-kinds';

void bootstrap({ extraKinds: [echoKind, workspaceEchoKind] });
