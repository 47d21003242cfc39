"""Load pumps: fake user records, the publishers that put them on each broker, and the
one engine behind the HTTP pump and the CLI pump."""
