"""The venue adapter contract (`contract`) and its credentials (`credentials`).

A plugin's `ExchangeDef.connect` returns a `Venue`; paper mode reads its market data,
live mode also trades through it. `runner.testing` holds the fake-exchange kit and the
conformance suite every adapter runs against its own fake server.
"""

from runner.venue.contract import (
    FINAL_STATUSES,
    Balance,
    Credentials,
    DepthUpdate,
    InstrumentMeta,
    OrderRejected,
    OrderRequest,
    OrderState,
    Position,
    Quote,
    RateLimited,
    Unsupported,
    UserEvent,
    Venue,
    VenueError,
    VenueFill,
    VenueTransient,
)
from runner.venue.credentials import credential_names, credentials_from_env

__all__ = [
    "FINAL_STATUSES", "Balance", "Credentials", "DepthUpdate", "InstrumentMeta",
    "OrderRejected", "OrderRequest", "OrderState", "Position", "Quote", "RateLimited",
    "Unsupported", "UserEvent", "Venue", "VenueError", "VenueFill", "VenueTransient",
    "credential_names", "credentials_from_env",
]
