"""Shared infrastructure: database, migrations, money, ids, errors, events, HTTP. No domain logic, no services."""
