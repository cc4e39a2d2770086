"""The OTLP receiver decodes protobuf and JSON and reads old, new and OpenInference attribute names."""

from __future__ import annotations

import json

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from demarcate.serve import BackgroundServer
from demarcate.testing.traces import TraceStore, receiver_app

TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")


def _pb(name: str, attrs: dict[str, str]) -> bytes:
    span = Span(trace_id=TRACE, span_id=bytes.fromhex("00f067aa0ba902b7"), name=name,
                attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()])
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]) \
        .SerializeToString()


def test_protobuf_json_and_attribute_aliases_over_real_http():
    store = TraceStore()
    server = BackgroundServer(receiver_app(store)).start()
    try:
        url = server.url + "/v1/traces"
        new = httpx.post(url, content=_pb("execute_tool send_email", {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_email",
            "gen_ai.tool.call.arguments": '{"to": "x@evil.example"}'}),
            headers={"content-type": "application/x-protobuf"})
        old = httpx.post(url, content=json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
            "traceId": TRACE.hex(), "spanId": "00f067aa0ba902b8", "name": "tool",
            "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "TOOL"}},
                           {"key": "tool.name", "value": {"stringValue": "fetch_url"}},
                           {"key": "input.value", "value": {"stringValue": "http://x"}}]}]}]}]}),
            headers={"content-type": "application/json"})
        bad = httpx.post(url, content=b"\xff\x00garbage", headers={"content-type": "application/x-protobuf"})
    finally:
        server.stop()
    assert new.status_code == 200 and old.status_code == 200 and bad.status_code == 400
    spans = store.trace(TRACE.hex())
    assert [s.get("tool.name") for s in spans] == ["send_email", "fetch_url"]
    assert [s.get("operation") for s in spans] == ["execute_tool", "tool"]
    assert spans[0].get("tool.arguments") == '{"to": "x@evil.example"}' and spans[1].get("tool.arguments") == "http://x"
    assert all(s.is_tool for s in spans)
