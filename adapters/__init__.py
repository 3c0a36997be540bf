"""Everything that touches the outside world: Postgres, Redis, HTTP, hashing, tokens."""
