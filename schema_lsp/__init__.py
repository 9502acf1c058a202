"""schema-lsp: keeps SQLAlchemy models, migrations and the live database in agreement."""

__version__ = "0.1.0"
