"""Volume-driven lines: Chaikin, force index, volume indices, VWAP (session,
rolling and anchored)."""
