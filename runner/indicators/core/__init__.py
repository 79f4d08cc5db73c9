"""The core set: the averages, ranges and price transforms the other families build
on (SMA, EMA and Wilder averages, true range, rolling extremes), with the shared
primitives (`batch.seeded_ewm`, `incremental.RollingMean`, `incremental.SeededEwm`)
that reproduce TA-Lib's seeding and rounding order."""
