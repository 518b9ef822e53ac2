"""Running trainings for many users: the SQLite run store, the job manager, its workers and executors."""
