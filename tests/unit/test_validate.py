"""actorschema.validate: checking messages against the committed schema folder, without the app."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.shop_schemas import ACTORS, CANONICAL, SCHEMA_DIR

from actorschema.validate import (
    Catalogue,
    CatalogueError,
    Finding,
    Unparsable,
    load_schemas,
    read_messages,
    validate_message,
)

LIMIT = 4096  # send_email's actor limit


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_schemas(SCHEMA_DIR)


def compact(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def check_all(catalogue: Catalogue, source: Any) -> dict[str, list[Finding]]:
    return {
        label: validate_message(catalogue, message, None if raw is None else len(raw))
        for label, message, raw in read_messages(source)
    }


def test_catalogue(catalogue: Catalogue) -> None:
    assert sorted(catalogue.actors) == list(ACTORS)
    email = catalogue.actors["send_email"]
    assert (email.queue, email.max_message_bytes, email.limit_source) == ("emails", LIMIT, "actor")


def test_gateway_messages_pass(catalogue: Catalogue) -> None:
    for actor in ACTORS:
        raw = compact(CANONICAL[actor])
        assert validate_message(catalogue, CANONICAL[actor], len(raw)) == [], actor


def test_json_file_with_one_message(catalogue: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(CANONICAL["refund"], indent=2) + "\n")
    [(label, message, raw)] = list(read_messages(path))
    assert label == str(path) and message == CANONICAL["refund"]
    assert raw == path.read_bytes().strip()  # the bytes as given, without the surrounding whitespace
    assert check_all(catalogue, path) == {str(path): []}


def test_json_file_with_a_list(catalogue: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    bad = {**CANONICAL["send_email"], "kwargs": {"user_id": 1, "template": "goodbye"}}
    path.write_text(json.dumps([CANONICAL[actor] for actor in ACTORS] + [bad]))
    results = check_all(catalogue, path)
    assert list(results) == [f"{path}[{index}]" for index in range(5)]
    assert all(findings == [] for findings in list(results.values())[:4])
    [finding] = results[f"{path}[4]"]
    assert finding.path == "$.kwargs.template" and "goodbye" in finding.reason


def test_json_lines_with_an_invalid_line(catalogue: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    lines = [
        compact(CANONICAL["place_order"]),
        b"",
        b'{"actor_name": "refund", ',
        compact(CANONICAL["refund"]),
    ]
    path.write_bytes(b"\r\n".join(lines) + b"\n")
    results = check_all(catalogue, path)
    assert list(results) == [f"{path}:1", f"{path}:3", f"{path}:4"]
    assert results[f"{path}:1"] == [] and results[f"{path}:4"] == []
    [finding] = results[f"{path}:3"]
    assert finding.path == "$" and finding.reason.startswith("invalid JSON:")


def test_a_broken_pretty_document_is_one_finding(catalogue: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(CANONICAL["refund"], indent=2)[:-3])
    [(label, message, _)] = list(read_messages(path))
    assert label == str(path) and isinstance(message, Unparsable)


def test_stdin(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    data = compact(CANONICAL["make_thumbnail"]) + b"\n" + compact(CANONICAL["send_email"]) + b"\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert check_all(catalogue, "-") == {"<stdin>:1": [], "<stdin>:2": []}


def test_binary_stream(catalogue: Catalogue) -> None:
    stream = io.BytesIO(compact(CANONICAL["refund"]))
    [(label, message, raw)] = list(read_messages(stream))
    assert (label, message, raw) == ("<stream>", CANONICAL["refund"], compact(CANONICAL["refund"]))


@pytest.mark.parametrize(
    "text",
    ['{"a": NaN}', '{"a": 1, "a": 2}', b"\xff\xfe".decode("latin-1"), '{"a": Infinity}'],
    ids=["NaN", "duplicate key", "not UTF-8", "Infinity"],
)
def test_not_strict_json(catalogue: Catalogue, text: str) -> None:
    [(_, message, _)] = list(read_messages(io.BytesIO(text.encode("latin-1"))))
    [finding] = validate_message(catalogue, message, None)
    assert finding.path == "$" and finding.reason.startswith("invalid JSON")


def test_unknown_actor(catalogue: Catalogue) -> None:
    message = {**CANONICAL["refund"], "actor_name": "ship_order"}
    [finding] = validate_message(catalogue, message, None)
    assert finding.path == "$.actor_name" and "unknown actor 'ship_order'" in finding.reason


@pytest.mark.parametrize("message", [[1, 2], "text", 3, None, {"args": []}, {"actor_name": 5}])
def test_not_a_message(catalogue: Catalogue, message: Any) -> None:
    [finding] = validate_message(catalogue, message, None)
    assert finding.path in ("$", "$.actor_name")


def test_paths_point_at_the_bad_value(catalogue: Catalogue) -> None:
    message = json.loads(json.dumps(CANONICAL["place_order"]))
    message["kwargs"]["order"]["items"][0]["quantity"] = 0
    message["kwargs"]["order"]["placed_at"] = "2024-01-01T00:00:00"
    message["options"]["odd key"] = 1  # options are open: no finding
    findings = validate_message(catalogue, message, None)
    assert [finding.path for finding in findings] == [
        "$.kwargs.order.items[0].quantity",
        "$.kwargs.order.placed_at",
    ]
    assert "date-time" in findings[1].reason


def _email_of_size(size: int) -> tuple[dict[str, Any], bytes]:
    """A valid send_email message whose compact encoding is exactly ``size`` bytes."""
    message = json.loads(json.dumps(CANONICAL["send_email"]))
    message["kwargs"]["variables"] = {"body": ""}
    padding = size - len(compact(message))
    message["kwargs"]["variables"]["body"] = "x" * padding
    raw = compact(message)
    assert len(raw) == size
    return message, raw


def test_size_limit(catalogue: Catalogue) -> None:
    at_limit, raw = _email_of_size(LIMIT)
    assert validate_message(catalogue, at_limit, len(raw)) == []
    assert validate_message(catalogue, at_limit, None) == []  # measured as the gateway encodes it
    over, raw = _email_of_size(LIMIT + 1)
    [finding] = validate_message(catalogue, over, len(raw))
    assert finding.path == "$"
    assert f"{LIMIT + 1} bytes, over the {LIMIT}-byte limit" in finding.reason
    assert validate_message(catalogue, over, None) == [finding]


def test_size_is_that_of_the_bytes_as_given(catalogue: Catalogue, tmp_path: Path) -> None:
    """A line of JSON Lines counts as written, spaces included (a broker would store them)."""
    message, _ = _email_of_size(LIMIT - 10)
    path = tmp_path / "spaced.jsonl"
    path.write_bytes(json.dumps(message).encode() + b"\n" + compact(message) + b"\n")
    results = check_all(catalogue, path)
    assert results[f"{path}:2"] == []
    [finding] = results[f"{path}:1"]
    assert "over the 4096-byte limit" in finding.reason


def test_gateway_refuses_what_validate_flags_as_too_large() -> None:
    """The gateway and the validator measure the same bytes: at the limit both accept."""
    from helpers.shop_schemas import stored

    import examples.shop as shop
    from actorschema import PayloadTooLarge

    at_limit, _ = _email_of_size(LIMIT)
    sent = shop.send_email.send_with_options(kwargs=at_limit["kwargs"])
    [body] = stored(shop.broker)
    assert len(body) == len(compact(at_limit))  # same envelope shape, same length
    assert validate_message(load_schemas(SCHEMA_DIR), json.loads(body), len(body)) == []
    assert sent.message_id == json.loads(body)["message_id"]
    bigger = {**at_limit["kwargs"], "variables": {"body": at_limit["kwargs"]["variables"]["body"] + "x"}}
    with pytest.raises(PayloadTooLarge):
        shop.send_email.send_with_options(kwargs=bigger)


def test_catalogue_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"index\.json"):
        load_schemas(tmp_path)
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, folder)
    path = folder / "refund.schema.json"
    path.write_text(path.read_text().replace('"reason"', '"why"'))
    with pytest.raises(CatalogueError, match="sha256"):
        load_schemas(folder)
