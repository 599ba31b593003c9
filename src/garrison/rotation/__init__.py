"""Rotation functions that Secrets Manager's rotation job invokes (the Lambda side).

    registry.Functions      the functions of a node, by Lambda function name
    builtin                 garrison-{postgresql,mysql}-{single-user,alternating-users}
    webhook                 an HTTP endpoint that receives the Lambda event

Outside `garrison.services`: these talk to databases and to HTTP endpoints, which
the service layer never does (import-linter); the composition root hands the
registry to Secrets Manager.
"""
