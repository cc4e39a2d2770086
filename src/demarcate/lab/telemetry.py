"""OpenTelemetry traces following the GenAI semantic conventions, exported over OTLP/HTTP.

Each lab gets its own tracer provider, so several labs in one process (as in tests) export to
their own endpoints. An incoming W3C `traceparent` makes the request's spans children of the
caller's trace, so a tester can find exactly the spans its probe caused.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def make_tracer(endpoint: str | None) -> tuple[trace.Tracer, TracerProvider]:
    provider = TracerProvider(resource=Resource.create({"service.name": "demarcate-lab-shopbot"}))
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
    return provider.get_tracer("demarcate.lab"), provider


def incoming(headers: Mapping[str, str]) -> Context:
    return _PROPAGATOR.extract(carrier={k.lower(): v for k, v in headers.items()})
