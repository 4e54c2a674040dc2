"""Keys and tokens: the gate's signing keys and key ring, approval tokens, the signed
revocation list, and the API keys callers present.

::

    signing          Ed25519 signing keys: load, create, JWKS (keys.signing)
    keyring          the active key and the retired ones still published (keys.keyring)
    tokens           approval tokens signed with the active key (keys.tokens)
    revocation_list  the signed list of revoked tokens and holds (keys.revocation_list)
    api_keys         API keys, roles and the caller they name (keys.api_keys)
"""
