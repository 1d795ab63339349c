"""Values: cache keys and the value codec, pure (no I/O); imports only ``_errors``."""
