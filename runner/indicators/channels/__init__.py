"""Price channels and volatility measures: Keltner, Donchian, acceleration bands,
Ichimoku, pivots, Heikin-Ashi candles, Chaikin volatility, mass index."""
