"""Candle patterns (TA-Lib's CDL functions) and the futures-desk structures: fair
value gaps, order blocks, Waddah Attar explosion."""
