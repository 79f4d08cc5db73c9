"""HMAC-SHA256 signing equals the documented vectors (hmac_signing_vectors.json)."""

from __future__ import annotations

from binance_data import load
from runner_binance.signing import encode_params, sign, signed_query


def vectors() -> tuple[str, list[dict[str, object]]]:
    doc = load("spot_docs/hmac_signing_vectors.json")
    return str(doc["secretKey"]), list(doc["vectors"])


def test_every_vector_signs_to_the_documented_signature() -> None:
    secret, cases = vectors()
    assert len(cases) == 3
    for case in cases:
        assert sign(secret, str(case["query_string"]), str(case["body"])) == case["signature"], \
            case["name"]


def test_params_encode_to_the_documented_query_string_ascii_and_non_ascii() -> None:
    secret, cases = vectors()
    for case in cases:
        if "params" not in case:
            continue
        params = [(str(k), str(v)) for k, v in case["params"]]  # type: ignore[attr-defined]
        query = encode_params(params)
        assert query == case["query_string"], case["name"]
        assert signed_query(secret, params) == f"{query}&signature={case['signature']}"


def test_body_is_appended_without_separator() -> None:
    secret, cases = vectors()
    mixed = next(c for c in cases if str(c["body"]))
    assert str(mixed["payload"]) == str(mixed["query_string"]) + str(mixed["body"])
    assert sign(secret, str(mixed["payload"])) == mixed["signature"]


def test_booleans_and_none() -> None:
    assert encode_params({"reduceOnly": True, "x": None, "closePosition": False}) == \
        "reduceOnly=true&closePosition=false"
