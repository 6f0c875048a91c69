"""The DRF plumbing every app's views share: the exception handler, pagination, ordering,
throttles, idempotency, parsers, routers, filters and OpenAPI helpers. Imports no app."""
