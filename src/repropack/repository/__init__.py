"""The package repository: admission of untrusted packages, a content-addressed store, a catalog to find them."""
