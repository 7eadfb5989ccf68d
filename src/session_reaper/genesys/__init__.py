"""The Genesys Cloud adapter: the only part of session-reaper that knows the platform's API.

``GenesysApi.connect(...)`` gives typed calls over a paced, retrying transport; ``discover`` finds
the unended message conversations in scope; ``to_conversation`` turns a platform view into the
vendor-neutral model. Every failure is a ``GenesysError`` (see ``errors``).
"""
