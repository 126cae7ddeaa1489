// Integration and e2e tests wait on real processes; their waits carry their own tighter bounds.
jest.setTimeout(120_000);
