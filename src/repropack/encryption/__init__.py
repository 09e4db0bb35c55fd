"""Restricted inputs that travel encrypted to named recipients: age (X25519) through ``pyrage``.

``age`` is the one place that calls the library: recipients and identities read and checked,
plaintext encrypted, ciphertext decrypted and checked against the plaintext's recorded sha256.
No cryptography is written here; each failure is one ``BadInput`` line naming the file.
"""
