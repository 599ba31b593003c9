"""Parameter Store's authorisation table: the IAM action, resource types and condition
keys of each operation, after AWS's Service Authorization Reference ("Actions,
resources, and condition keys for AWS Systems Manager"), for the operations of
Parameter Store.

Every operation acts on the ``parameter`` resource,
``arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>``,
whose condition key is ``aws:ResourceTag/${TagKey}``. PutParameter with Tags
also asks ``ssm:AddTagsToResource`` (`ADD_TAGS`), as AWS does. Reading a
SecureString with decryption is authorised by KMS too: ``kms:Decrypt`` on its
key, with ``kms:ViaService`` ``ssm.<region>.amazonaws.com``.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

_RESOURCE = ("parameter", "|", "aws:ResourceTag/${TagKey}")
_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")

ACTIONS: dict[str, OperationAuth] = table(
    "ssm",
    {
        "PutParameter": (*_RESOURCE, *_TAGS, "ssm:Overwrite", "ssm:Policies"),
        "GetParameter": _RESOURCE,
        "GetParameters": _RESOURCE,
        "GetParametersByPath": _RESOURCE,
        "GetParameterHistory": _RESOURCE,
        "DeleteParameter": _RESOURCE,
        "DeleteParameters": _RESOURCE,
        "LabelParameterVersion": _RESOURCE,
        "UnlabelParameterVersion": _RESOURCE,
        # later parts of Parameter Store, listed so the table documents the whole of it
        "DescribeParameters": (),
        "AddTagsToResource": ("parameter", "|", "aws:ResourceTag/${TagKey}", *_TAGS),
        "RemoveTagsFromResource": ("parameter", "|", "aws:ResourceTag/${TagKey}", "aws:TagKeys"),
        "ListTagsForResource": _RESOURCE,
        "PutResourcePolicy": _RESOURCE,
        "GetResourcePolicies": _RESOURCE,
        "DeleteResourcePolicy": _RESOURCE,
    },
)

ADD_TAGS = ACTIONS["AddTagsToResource"].action
