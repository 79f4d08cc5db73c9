"""The backtest engine."""
