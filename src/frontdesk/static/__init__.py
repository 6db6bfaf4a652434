"""The `static` route action: files from a directory tree, served safely and fast."""
