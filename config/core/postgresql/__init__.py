"""Django's PostgreSQL backend with a connection gate (`ENGINE = "config.core.postgresql"`)."""
