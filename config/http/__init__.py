"""Request plumbing below DRF: the error envelope, request context and logging, the client's
address, rate-limit windows, and the ASGI layers (body limit, threaded WSGI, public cache).
Imports no app."""
