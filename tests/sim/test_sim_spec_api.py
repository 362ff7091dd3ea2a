"""The API checks custom specs against the same schema and publishes it."""

from fastapi.testclient import TestClient

from tests.capabilities.test_capabilities import auth

SPEC = {
    "kind": "llm-training",
    "hardware": "a100-80gb-dgx",
    "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048},
    "parallelism": {"tensor_parallel": 8},
}


def test_unknown_key_is_a_422_naming_the_field(client: TestClient, write_token: str) -> None:
    response = client.post("/api/v1/benchmark-runs", json={"spec": SPEC}, headers=auth(write_token))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["field"] == "spec.parallelism.tensor_parallel"
    assert "tensor_parallel" in body["detail"]
    bad_hw = {**SPEC, "parallelism": {}, "hardware": {"base": "a100-80gb-dgx", "overrides": {}}}
    bad_hw["hardware"]["overrides"]["network.inter_node.bandwidth_gbps"] = -1
    response = client.post(
        "/api/v1/benchmark-runs", json={"spec": bad_hw}, headers=auth(write_token)
    )
    assert response.json()["field"] == "spec.hardware.overrides.network.inter_node.bandwidth_gbps"


def test_spec_schema_is_published(client: TestClient) -> None:
    response = client.get("/api/v1/spec-schema")
    assert response.status_code == 200
    published = response.json()
    assert "TrainingSpec" in published["$defs"]
    assert published["$defs"]["Parallelism"]["additionalProperties"] is False
