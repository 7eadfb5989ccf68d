"""A faithful emulator of the Genesys Cloud operations session-reaper uses.

`server.EmulatorServer` runs it on loopback for tests, the demo and benchmarks; `server.serve` backs the
`session-reaper emulator` command; `client.EmulatorAdmin` drives its `/emulator/v1` admin API. Every
behaviour without a primary source is named in `assumptions`.
"""
