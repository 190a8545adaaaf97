"""Team mode's job engine: scheduled, partitioned reviews on workers (procrastinate on the
central PostgreSQL). See docs/architecture.md ("Workers") and docs/operations.md ("Workers")."""
