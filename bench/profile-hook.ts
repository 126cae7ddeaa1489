// Preloaded (`-r`) into both Conveyor processes by `npm run bench -- --profile`, beside
// --cpu-prof. Node writes the profile only on a normal exit, while Nest's shutdown hook ends by
// re-sending SIGTERM to its own process after removing its listener. This listener is still
// there at that point and exits normally instead; the timer covers a shutdown that hangs.
let signals = 0;
process.on('SIGTERM', () => {
  signals += 1;
  if (signals > 1) process.exit(0);
  setTimeout(() => process.exit(0), 25_000).unref();
});
