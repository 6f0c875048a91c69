"""`Idempotency-Key` on POST: the view mixin (`mixin`), its store (`store`) and the store's
model (`models`, registered under the `config` app)."""
