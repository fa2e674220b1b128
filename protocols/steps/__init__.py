"""Step types: one module per type (schema, role, end criteria, executor); see registry.py."""
