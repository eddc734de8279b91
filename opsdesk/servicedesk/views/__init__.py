"""The service desk's own pages (beside the generic ones the registry makes)."""
