"""runner-binance: the `binance` venue (spot and USD-M futures) for runner.

Importing this package is cheap; the network stack (aiohttp, websockets) is imported
only by `runner_binance.venue` and friends, when a run connects.
"""

__version__ = "0.1.0"
