"""The bottom of the house: plain building blocks the domain layer uses (errors, cache-aside,
the task queue, the work's context). Imports no app, no DRF and no HTTP."""
