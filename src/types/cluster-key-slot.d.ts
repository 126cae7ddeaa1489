/** The slot hash ioredis routes by; the package ships no types of its own. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot (0…16383) of a key, honouring its first non-empty `{…}` tag. */
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The common slot of all these keys, or -1 when they do not share one. */
    function generateMulti(keys: (string | Buffer)[]): number;
  }
  export = calculateSlot;
}
