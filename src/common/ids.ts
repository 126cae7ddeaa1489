const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids: anything else names no job or project (404, never a database error). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
