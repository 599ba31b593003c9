"""The `garrison` command: init, server, operator, audit."""
