"""Demo data for embedded defaults: the inventory that covers the shared samples."""
