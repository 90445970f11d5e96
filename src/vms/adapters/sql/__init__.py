"""SQL adapter: engines for SQLite (embedded), PostgreSQL and SQL Server through SQLAlchemy."""
