"""The shop example: Flask on PostgreSQL and Redis, monitored per guide 002 (issue #9)."""
