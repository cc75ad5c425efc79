"""Unit tier: in-process tests (no `kg` processes, no training runs, no live Neo4j; CLI
cases through Typer's CliRunner). `make test-fast` runs it."""
