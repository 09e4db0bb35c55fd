"""Governed run records: Ed25519 keys and the signature that makes a record tamper-evident."""
