"""AWS Systems Manager Parameter Store: configuration and secrets with versions,
hierarchies, labels, tiers and IAM control; SecureStrings encrypted by KMS.

provider.py   wire shapes <-> use cases (SsmProvider, the pipeline's entry)
service.py    ParameterStore: Put/Get/GetParameters/ByPath/History/Delete/Labels
domain.py     Parameter, ParameterVersion, tiers and AWS's limits
names.py      name, path, selector and label rules
policies.py   parameter policies (validation, when their actions fall due)
rules.py      PutParameter's storage-free rules (AllowedPattern, sizes, tags, AWS's texts)
paging.py     opaque NextTokens
filters.py    GetParametersByPath's ParameterFilters
secure.py     SecureString encryption through KMS, as the caller (kms:ViaService)
actions.py    the ssm: authorisation table
store.py      SQL over the ssm_* tables; values sealed by the barrier
errors.py     Parameter Store's error codes
"""
