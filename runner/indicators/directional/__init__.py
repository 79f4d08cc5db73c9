"""Directional movement and trend-following systems: ADX and its parts, Aroon,
parabolic SAR, SuperTrend, Vortex, VHF."""
