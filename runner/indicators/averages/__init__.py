"""Moving averages beyond the core three, the MA-type machinery (`ma: sma|ema|...`)
and the indicators built on it (MACDEXT, APO, PPO, TRIX, STOCHF, STOCHRSI, ...)."""
