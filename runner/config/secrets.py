"""Refuse secrets in strategy files: they come from the environment only (DESIGN §8).

A strategy file is committed, reviewed and printed in reports; a key that looks like a
credential anywhere in it is an error that names the environment variable to use.
"""

from __future__ import annotations

from typing import Any

from runner.config.diagnostics import Diagnostic, Severity
from runner.config.loader import KeyPath, SourceMap, format_path, iter_keys

_EXACT = {
    "apikey", "apisecret", "secret", "secretkey", "password", "passwd", "passphrase",
    "token", "accesstoken", "authtoken", "apitoken", "refreshtoken", "bearertoken",
    "privatekey", "clientsecret", "sessiontoken", "credentials",
}  # fmt: skip
_SUFFIXES = ("secret", "password", "passphrase", "apikey", "privatekey", "accesstoken")


def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def looks_secret(key: str) -> bool:
    k = _normal(key)
    return k in _EXACT or k.endswith(_SUFFIXES)


def env_var_for(key: str, exchange: str, account: str) -> str:
    base = f"RUNNER_{exchange}_{account}_".upper().replace("-", "_")
    k = _normal(key)
    if k in ("apikey", "key"):
        return base + "API_KEY"
    if k in ("apisecret", "secret", "secretkey"):
        return base + "API_SECRET"
    return base + key.upper().replace("-", "_")


def find_secrets(data: dict[str, Any], source: SourceMap) -> list[Diagnostic]:
    venue = data.get("venue") if isinstance(data.get("venue"), dict) else {}
    exchange = str(venue.get("exchange", "sim")) if isinstance(venue, dict) else "sim"
    account = str(venue.get("account", "main")) if isinstance(venue, dict) else "main"
    out: list[Diagnostic] = []
    for path in iter_keys(data):
        key = path[-1]
        if isinstance(key, str) and looks_secret(key):
            out.append(_secret(path, key, exchange, account, source))
    return out


def _secret(path: KeyPath, key: str, exchange: str, account: str,
            source: SourceMap) -> Diagnostic:
    pos = source.key_pos(path)
    if path[:1] == ("venue",):
        hint = f"remove it and set the environment variable {env_var_for(key, exchange, account)}"
    else:
        hint = "remove it; secrets come from the environment, and ${VAR} may name one in " \
               "venue.params, paths and notify webhooks"
    return Diagnostic(
        Severity.ERROR, "secret-in-file",
        f'"{key}" looks like a secret; secrets never go in a strategy file',
        source.file, pos.line, pos.column, format_path(path), hint, len(key))
