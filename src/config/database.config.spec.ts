import { parseDatabaseConfig, pgliteDir } from './database.config';

describe('database configuration', () => {
  it('defaults to the embedded database under .data in the working directory', () => {
    const config = parseDatabaseConfig({}, '/srv');
    expect(config).toEqual({ databaseUrl: undefined, dataDir: '/srv/.data' });
    expect(pgliteDir(config)).toBe('/srv/.data/pglite');
  });

  it('reads DATABASE_URL and DATA_DIR, relative to the working directory or absolute', () => {
    expect(
      parseDatabaseConfig({ DATABASE_URL: 'postgresql://db/conveyor', DATA_DIR: 'var' }, '/srv'),
    ).toEqual({ databaseUrl: 'postgresql://db/conveyor', dataDir: '/srv/var' });
    expect(parseDatabaseConfig({ DATA_DIR: '/data' }, '/srv').dataDir).toBe('/data');
  });

  it.each([
    ['mysql://db/x', 'DATABASE_URL must use postgres: or postgresql: (got mysql:)'],
    ['not a url', 'DATABASE_URL must be a URL'],
  ])('refuses DATABASE_URL=%j', (value, message) => {
    expect(() => parseDatabaseConfig({ DATABASE_URL: value }, '/srv')).toThrow(
      `Invalid configuration: ${message}`,
    );
  });
});
