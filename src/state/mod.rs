//! State: model, atomic local backend with lock, PostgreSQL backend, journal.
