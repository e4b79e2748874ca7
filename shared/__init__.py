"""The project's common package: config, database, event envelope, bus, auth and calendar."""
