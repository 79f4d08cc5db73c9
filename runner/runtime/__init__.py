"""The streaming runtime: the compiled strategy on live events (paper now, live next).

`session` is the strategy side (rows in, the backtest's stepper, the journal, the
files), `feeds` the market-data sources (a replay of stored bars or trades, the `sim`
venue's random walk), `executor` the asyncio wiring between them (bounded queues,
per-instrument bar building, one clock), `paper` the `--mode paper` binding.
"""
