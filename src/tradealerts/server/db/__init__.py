"""The server's database: SQLAlchemy 2 models, engine factory and Alembic migrations."""
