"""HTTP entry point: Starlette app, routes, request/response structs, error envelope."""
