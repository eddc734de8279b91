"""The opsdesk agent: runs on a monitored host, collects metrics with psutil and pushes them to
the server over HTTP(S), buffering on disk while the server is away.

It imports nothing of Django or of the server's apps (tests/test_layering.py holds that), so it
runs with the standard library, psutil and an HTTP client alone.
"""
