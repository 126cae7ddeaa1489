import { parseArgs } from 'node:util';
import { JwtService } from '../auth/jwt.service';
import { loadConfig } from '../config/app-config';

/** npm run token -- --sub <user> [--admin] [--ttl <seconds>]: a JWT signed with JWT_SECRET. */
function main(): void {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '86400' },
    },
  });
  if (!values.sub) throw new Error('--sub <user id> is required');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1) throw new Error('--ttl must be a positive integer');
  const jwt = new JwtService(loadConfig());
  process.stdout.write(
    `${jwt.sign({ id: values.sub, roles: values.admin ? ['admin'] : [] }, ttl)}\n`,
  );
}

try {
  main();
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n`);
  process.exit(1);
}
