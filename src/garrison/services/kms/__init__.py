"""AWS Key Management Service: symmetric keys, aliases, key policies, rotation.

provider.py       wire shapes <-> use cases (KmsProvider, the pipeline's entry)
service.py        KmsService: the use cases assembled
  keys.py           key lifecycle, key policy, tags, last usage
  aliases.py        aliases
  cryptographic.py  Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom
  rotation.py       automatic and on-demand rotation of key material
access.py         find the named key, authorise the caller
keypolicy.py      key policies, delegation to IAM, lockout check, condition keys
cache.py          the hot path's in-process cache
ciphertext.py     the ciphertext blob format and its cipher
identifiers.py    key ids, ARNs, alias names, pagination markers
domain.py         Key, KeyVersion, Alias and the key-state machine
store.py          SQL over the kms_* tables
jobs.py           scheduled deletion and rotation
errors.py         KMS's error codes
"""
