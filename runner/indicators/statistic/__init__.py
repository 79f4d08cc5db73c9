"""Rolling statistics: deviation, regression, correlation, beta, extremes'
positions, percentiles, z-score."""
