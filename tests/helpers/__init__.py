"""Builders, harnesses and fake clocks shared by several test suites."""
