"""Application services: one `async def` per use case, written against `domain.ports`."""
