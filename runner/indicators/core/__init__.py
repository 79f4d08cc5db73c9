"""The core set: the averages, ranges and price transforms the other families build
on (SMA, EMA and Wilder averages, true range, rolling extremes), with the shared
primitives (`kernels.seeded_ewm`, `kernels.rolling_mean`, `kernels.rolling_max`,
`incremental.RollingMean`, `incremental.SeededEwm`) that reproduce TA-Lib's seeding
and rounding order."""
