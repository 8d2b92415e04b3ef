"""The shop's AsyncAPI 3.0.0 document: valid against the official schema, deterministic, and its
payload schemas say what the committed JSON Schemas say."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import referencing
from helpers.node import run_ajv
from helpers.shop_schemas import ACTORS, CANONICAL, SCHEMAS
from jsonschema import Draft202012Validator
from referencing.jsonschema import DRAFT202012

import examples.shop as shop
from actorschema.asyncapi import SCHEMA_FORMAT, asyncapi_document

ROOT = Path(__file__).resolve().parents[2]
DOC_URI = "urn:actorschema:shop-asyncapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(shop.broker, title="Shop", version="1.2.3")


def broken_copies(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents the official schema must refuse: the oracle has to bite, not just nod."""
    wrong_action = copy.deepcopy(document)
    wrong_action["operations"]["refund"]["action"] = "consume"  # 3.0 knows only send and receive
    no_address_key = copy.deepcopy(document)
    no_address_key["channels"]["orders"]["addresss"] = no_address_key["channels"]["orders"].pop("address")
    no_info = copy.deepcopy(document)
    del no_info["info"]
    return [wrong_action, no_address_key, no_info]


@pytest.fixture(scope="module")
def ajv_result(document: dict[str, Any]) -> dict[str, Any]:
    """One Node run: the document and its broken copies against @asyncapi/specs 3.0.0."""
    return run_ajv({"asyncapi": document, "asyncapi_documents": broken_copies(document)})


@pytest.mark.node
def test_document_validates_against_asyncapi_3_0_0(ajv_result: dict[str, Any]) -> None:
    assert ajv_result["asyncapi"]["valid"] is True, ajv_result["asyncapi"]["errors"][:5]


@pytest.mark.node
def test_the_asyncapi_oracle_refuses_broken_documents(ajv_result: dict[str, Any]) -> None:
    assert [found["valid"] for found in ajv_result["asyncapi_documents"]] == [False, False, False]


def test_structure(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Shop" and document["info"]["version"] == "1.2.3"
    assert {name: channel["address"] for name, channel in document["channels"].items()} == {
        "emails": "emails",
        "images": "images",
        "orders": "orders",
    }
    assert sorted(document["channels"]["orders"]["messages"]) == ["place_order", "refund"]
    for actor in ACTORS:
        operation = document["operations"][actor]
        queue = shop.broker.get_actor(actor).queue_name
        assert operation["action"] == "receive"
        assert operation["channel"] == {"$ref": f"#/channels/{queue}"}
        assert operation["messages"] == [{"$ref": f"#/channels/{queue}/messages/{actor}"}]
        assert document["components"]["messages"][actor]["payload"] == {
            "$ref": f"#/components/schemas/{actor}"
        }
        assert document["components"]["schemas"][actor]["schemaFormat"] == SCHEMA_FORMAT
    limits = {
        actor: document["components"]["messages"][actor]["x-actorschema-max-message-bytes"]
        for actor in ACTORS
    }
    assert limits == {"make_thumbnail": 16384, "place_order": 262144, "refund": 262144, "send_email": 4096}


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return found + [
        ref for key, value in node.items() if key not in ("const", "enum") for ref in _refs(value)
    ]


def _resolve(document: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def test_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    """AsyncAPI tools resolve $ref against the document: none may point at an embedded $id's base."""
    refs = _refs(document)
    assert any("/$defs/" in ref for ref in refs)  # the model references of place_order
    for ref in refs:
        _resolve(document, ref)


@pytest.mark.parametrize("actor", ACTORS)
def test_payload_schema_is_the_committed_schema(document: dict[str, Any], actor: str) -> None:
    """Same keywords, and the same verdicts on a valid and an invalid message, as schemas/<actor>."""
    embedded = document["components"]["schemas"][actor]["schema"]
    committed = {key: value for key, value in SCHEMAS[actor].items() if key != "$id"}
    assert json.dumps(embedded, sort_keys=True).replace(
        f"#/components/schemas/{actor}/schema", "#"
    ) == json.dumps(committed, sort_keys=True)
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        DOC_URI, DRAFT202012.create_resource(document)
    )
    validator = Draft202012Validator(
        {"$ref": f"{DOC_URI}#/components/schemas/{actor}/schema"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    assert validator.is_valid(CANONICAL[actor])
    broken = {**CANONICAL[actor], "kwargs": {**CANONICAL[actor]["kwargs"], "unexpected": 1}}
    assert not validator.is_valid(broken)


@pytest.mark.slow
def test_deterministic(document: dict[str, Any]) -> None:
    """Same document twice in-process, and byte for byte across processes with other hash seeds."""
    again = asyncapi_document(shop.broker, title="Shop", version="1.2.3")
    assert json.dumps(again) == json.dumps(document)  # key order included
    script = (
        "import json, examples.shop as shop; from actorschema.asyncapi import asyncapi_document; "
        "print(json.dumps(asyncapi_document(shop.broker, title='Shop', version='1.2.3')))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {json.dumps(document) + "\n"}
