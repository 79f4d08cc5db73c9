"""The shipped test kit: a fake exchange for adapter tests, helpers, and the adapter
conformance suite (DESIGN §7, STYLE "ship the test doubles as product").

- `fake_venue.FakeVenue` — venue-neutral in-memory exchange state: order matching
  against a trade tape, balances and positions, a user-event stream with faults.
- `fake_server.FakeExchange` — the base of a venue's protocol fake: an aiohttp HTTP
  server and a websockets server on 127.0.0.1 port 0 with fault injection.
- `eventually.eventually` — wait for a condition instead of sleeping.
- `conformance.VenueConformance` — the cases every adapter runs against its fake.
- `plugin` — pytest fixtures, loaded through the `pytest11` entry point.

Submodules are imported on use, so `import runner.testing` stays cheap.
"""
