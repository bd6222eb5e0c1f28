"""The gRPC adapter: converts messages to engine dataclasses and errors to status codes."""
