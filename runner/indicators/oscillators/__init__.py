"""Momentum oscillators: BOP, CCI, CMO, MFI, ULTOSC, TSI, SMI, the Bill Williams
oscillators and their kin."""
