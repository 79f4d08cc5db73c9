"""Ehlers' Hilbert-transform cycle indicators and MAMA, as TA-Lib computes them."""
