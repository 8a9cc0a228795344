"""Business operations: typed functions taking a session and plain values, never the request."""
