/**
 * Whether `eventId` comes after `cursor` (no cursor: everything does). Event ids are decimal
 * strings that increase per user; compared as BigInt, since they outgrow a double and "10" < "9"
 * as text. Shared with the dashboard (web/src), which imports this module from the client's source.
 */
export function isAfter(eventId: string, cursor: string | undefined): boolean {
  return cursor === undefined || BigInt(eventId) > BigInt(cursor);
}
