"""Network discovery: scan an address range (scan.py, no Django), keep what it found as rows an
engineer accepts or ignores (services.py), in a worker (tasks.py)."""
