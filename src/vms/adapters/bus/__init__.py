"""Bus adapters: an embedded durable log (SQLite) and Apache Kafka."""
