"""API credentials from the environment, the only place they may come from (DESIGN §8).

`RUNNER_<EXCHANGE>_<ACCOUNT>_API_KEY` and `_API_SECRET`, upper case, `-` as `_`: the
same names the validator tells a user to set when it finds a key in a strategy file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from runner.config.secrets import env_var_for
from runner.errors import UsageError
from runner.venue.contract import Credentials


def credential_names(exchange: str, account: str) -> tuple[str, str]:
    """The two environment variable names for an exchange account."""
    return env_var_for("api_key", exchange, account), env_var_for("api_secret", exchange,
                                                                  account)


def credentials_from_env(exchange: str, account: str,
                         environ: Mapping[str, str] | None = None) -> Credentials:
    """The account's credentials; a `UsageError` naming the missing variables (never
    their values) when either is unset or empty."""
    env = os.environ if environ is None else environ
    key_name, secret_name = credential_names(exchange, account)
    missing = [name for name in (key_name, secret_name) if not env.get(name)]
    if missing:
        raise UsageError(f"venue {exchange} account {account}: set "
                         + " and ".join(missing) + " in the environment (credentials "
                         "are never read from the strategy file)")
    return Credentials(env[key_name], env[secret_name])


__all__ = ["credential_names", "credentials_from_env"]
