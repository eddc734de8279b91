"""Notify's pages: on-call (oncall_*), channels (beside them)."""
