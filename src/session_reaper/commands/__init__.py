"""What a user runs: the CLI and its commands, and the wiring they share."""
