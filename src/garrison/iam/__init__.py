"""Identity and access: principals, credentials, ARNs, and the IAM policy language.

`arn` parses and formats ARNs; `policy` (with `conditions`) compiles policy
documents once and evaluates authorisation requests against them; `credentials`
holds the access keys SigV4 checks against.
"""
