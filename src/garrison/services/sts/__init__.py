"""AWS Security Token Service: who is calling, and temporary role credentials.

provider.py   wire shapes <-> use cases (StsProvider, the pipeline's entry)
service.py    StsService: GetCallerIdentity, AssumeRole, GetAccessKeyInfo
domain.py     Role, AssumeRoleRequest, SessionGrant, IssuedSession and AWS's limits
actions.py    the sts: authorisation table
store.py      SQL over iam_roles (read) and sts_sessions
errors.py     STS's error codes

Requests signed with the temporary credentials are authenticated by
`garrison.iam.credentials` (the session token check) like any other key.
"""
