"""The IAM service: users, groups, roles, managed and inline policies, access keys, tags.

`provider.IamProvider` is what the pipeline calls; its docstring maps the
modules. Authorisation goes through the shared `garrison.iam.authorizer`, with
the actions of `actions.ACTIONS`.
"""
