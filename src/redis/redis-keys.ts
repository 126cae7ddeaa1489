/**
 * Redis Cluster hashes only what the first `{…}` of a key holds (when it is not empty), so keys
 * that carry the same tag share one slot, and a script or transaction may touch them together
 * (docs/redis-cluster.md, "Key layout").
 */
export function hashTag(...parts: string[]): string {
  return `{${parts.join(':')}}`;
}

/** What Redis Cluster hashes of this key: the first non-empty `{…}`, or the whole key. */
export function hashedPartOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

/** A tag that puts new keys in the slot of an existing key, whatever name it was given. */
export function tagOfKey(key: string): string {
  return `{${hashedPartOf(key)}}`;
}

/** BullMQ's prefix for one kind's queue: tagged, so each queue's keys share a slot and kinds spread. */
export function queuePrefix(prefix: string, kind: string): string {
  return `${prefix}:${hashTag(kind)}`;
}
