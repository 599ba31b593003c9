"""The only package that imports `cryptography.hazmat`.

Safe recipes with no unsafe defaults: `aead` (AES-256-GCM with mandatory
associated data), `signing` (Ed25519 for audit digests), `shamir` (secret
sharing for the root key). One opaque `DecryptionError` for every failure to open.
"""
