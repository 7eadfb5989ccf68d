"""The `report` command: figures from the ledger, their charts and pages."""
