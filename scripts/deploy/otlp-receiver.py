#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace receiver for scripts/test-deploy (standard library only).

Accepts `POST /v1/traces` in OTLP's JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and
keeps every span in memory; `GET /spans` answers them flattened, one object per span:
{traceId, spanId, parentSpanId, name, kind, service, attributes: {key: value}, links: [spanId]}.
It stands in for a collector (Jaeger, Tempo, an OpenTelemetry Collector), which cannot be
pulled here; what it checks is what those would receive.

Usage: otlp-receiver.py [--host 0.0.0.0] [--port 4318]
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SPANS = []
LOCK = threading.Lock()


def value_of(v):
    """An OTLP AnyValue as a plain value."""
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [value_of(x) for x in v["arrayValue"].get("values", [])]
    return None


def attributes(items):
    return {a["key"]: value_of(a.get("value", {})) for a in items or []}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"{}", kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/v1/traces":
            return self.answer(404)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if "json" not in (self.headers.get("Content-Type") or ""):
            return self.answer(415, b'{"error":"send http/json"}')
        try:
            request = json.loads(raw)
        except ValueError:
            return self.answer(400)
        flat = []
        for rs in request.get("resourceSpans", []):
            service = attributes(rs.get("resource", {}).get("attributes")).get("service.name")
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    flat.append({
                        "traceId": span.get("traceId"),
                        "spanId": span.get("spanId"),
                        "parentSpanId": span.get("parentSpanId") or None,
                        "name": span.get("name"),
                        "kind": span.get("kind"),
                        "service": service,
                        "attributes": attributes(span.get("attributes")),
                        "links": [l.get("spanId") for l in span.get("links", [])],
                    })
        with LOCK:
            SPANS.extend(flat)
        self.answer(200)

    def do_GET(self):
        if self.path == "/spans":
            with LOCK:
                body = json.dumps(SPANS).encode()
            return self.answer(200, body)
        if self.path == "/health":
            return self.answer(200)
        self.answer(404)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print("LISTENING %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
