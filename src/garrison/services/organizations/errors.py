"""Organizations' own errors, with the codes AWS Organizations answers with.

    AwsError (garrison.errors)
     ├── AccessDeniedException                 shared: IAM refused, or a member account
     │                                         called a management-only operation
     ├── AWSOrganizationsNotInUseException     the caller's account is in no organization
     ├── AlreadyInOrganizationException        CreateOrganization from a member
     ├── ConstraintViolationException          a limit (carries Reason)
     ├── InvalidInputException                 a value AWS refuses (carries Reason)
     ├── MalformedPolicyDocumentException      an SCP that does not compile
     ├── ...NotFoundException                  account, OU, root, parent, child, policy,
     │                                         target, create-account request
     ├── Duplicate...Exception                 OU name, policy name, attachment, account
     ├── MasterCannotLeaveOrganizationException
     ├── OrganizationNotEmptyException, OrganizationalUnitNotEmptyException,
     │   PolicyInUseException, PolicyNotAttachedException
     ├── PolicyTypeAlreadyEnabledException, PolicyTypeNotEnabledException,
     │   PolicyTypeNotAvailableForOrganizationException
     └── UnsupportedOperationException         a policy type this release does not do

`Reason` is a member of the ConstraintViolationException and InvalidInputException
shapes; it travels in `fields` so the protocol layer can put it in the body.
Messages are the model's own descriptions of each error.
"""

from __future__ import annotations

from garrison.errors import AccessDeniedException, AwsError, UnsupportedOperationException

__all__ = [
    "AWSOrganizationsNotInUseException",
    "AccessDeniedException",
    "AccountNotFoundException",
    "AlreadyInOrganizationException",
    "ChildNotFoundException",
    "ConstraintViolationException",
    "CreateAccountStatusNotFoundException",
    "DestinationParentNotFoundException",
    "DuplicateAccountException",
    "DuplicateOrganizationalUnitException",
    "DuplicatePolicyAttachmentException",
    "DuplicatePolicyException",
    "InvalidInputException",
    "MalformedPolicyDocumentException",
    "MasterCannotLeaveOrganizationException",
    "OrganizationNotEmptyException",
    "OrganizationalUnitNotEmptyException",
    "OrganizationalUnitNotFoundException",
    "ParentNotFoundException",
    "PolicyInUseException",
    "PolicyNotAttachedException",
    "PolicyNotFoundException",
    "PolicyTypeAlreadyEnabledException",
    "PolicyTypeNotAvailableForOrganizationException",
    "PolicyTypeNotEnabledException",
    "RootNotFoundException",
    "SourceParentNotFoundException",
    "TargetNotFoundException",
    "UnsupportedOperationException",
    "management_only",
    "not_in_use",
]


class _Described(AwsError):
    """An error whose default message is AWS's description of it."""

    default = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default)


class _WithReason(AwsError):
    """An error whose shape has a Reason member (a constant of the model's enum)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = {"Reason": reason}


class AWSOrganizationsNotInUseException(_Described):
    code = "AWSOrganizationsNotInUseException"
    default = "Your account is not a member of an organization."


class AlreadyInOrganizationException(_Described):
    code = "AlreadyInOrganizationException"
    default = (
        "This account is already a member of an organization. An account can belong to only "
        "one organization at a time."
    )


class ConstraintViolationException(_WithReason):
    code = "ConstraintViolationException"


class InvalidInputException(_WithReason):
    code = "InvalidInputException"


class MalformedPolicyDocumentException(AwsError):
    code = "MalformedPolicyDocumentException"


class AccountNotFoundException(_Described):
    code = "AccountNotFoundException"
    default = "You specified an account that doesn't exist."


class ChildNotFoundException(_Described):
    code = "ChildNotFoundException"
    default = "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified."  # noqa: E501


class CreateAccountStatusNotFoundException(_Described):
    code = "CreateAccountStatusNotFoundException"
    default = (
        "We can't find an create account request with the CreateAccountRequestId that you "
        "specified."
    )


class DestinationParentNotFoundException(_Described):
    code = "DestinationParentNotFoundException"
    default = (
        "We can't find the destination container (a root or OU) with the ParentId that you "
        "specified."
    )


class SourceParentNotFoundException(_Described):
    code = "SourceParentNotFoundException"
    default = "We can't find a source root or OU with the ParentId that you specified."


class ParentNotFoundException(_Described):
    code = "ParentNotFoundException"
    default = "We can't find a root or OU with the ParentId that you specified."


class RootNotFoundException(_Described):
    code = "RootNotFoundException"
    default = "We can't find a root with the RootId that you specified."


class OrganizationalUnitNotFoundException(_Described):
    code = "OrganizationalUnitNotFoundException"
    default = "We can't find an OU with the OrganizationalUnitId that you specified."


class PolicyNotFoundException(_Described):
    code = "PolicyNotFoundException"
    default = "We can't find a policy with the PolicyId that you specified."


class TargetNotFoundException(_Described):
    code = "TargetNotFoundException"
    default = "We can't find a root, OU, account, or policy with the TargetId that you specified."


class DuplicateAccountException(_Described):
    code = "DuplicateAccountException"
    default = "That account is already present in the specified destination."


class DuplicateOrganizationalUnitException(_Described):
    code = "DuplicateOrganizationalUnitException"
    default = "An OU with the same name already exists."


class DuplicatePolicyException(_Described):
    code = "DuplicatePolicyException"
    default = "A policy with the same name already exists."


class DuplicatePolicyAttachmentException(_Described):
    code = "DuplicatePolicyAttachmentException"
    default = "The selected policy is already attached to the specified target."


class MasterCannotLeaveOrganizationException(_Described):
    code = "MasterCannotLeaveOrganizationException"
    default = (
        "You can't remove a management account from an organization. If you want the "
        "management account to become a member account in another organization, you must "
        "first delete the current organization of the management account."
    )


class OrganizationNotEmptyException(_Described):
    code = "OrganizationNotEmptyException"
    default = (
        "The organization isn't empty. To delete an organization, you must first remove all "
        "accounts except the management account."
    )


class OrganizationalUnitNotEmptyException(_Described):
    code = "OrganizationalUnitNotEmptyException"
    default = (
        "The specified OU is not empty. Move all accounts to another root or to other OUs, "
        "remove all child OUs, and try the operation again."
    )


class PolicyInUseException(_Described):
    code = "PolicyInUseException"
    default = (
        "The policy is attached to one or more entities. You must detach it from all roots, "
        "OUs, and accounts before performing this operation."
    )


class PolicyNotAttachedException(_Described):
    code = "PolicyNotAttachedException"
    default = "The policy isn't attached to the specified target in the specified root."


class PolicyTypeAlreadyEnabledException(_Described):
    code = "PolicyTypeAlreadyEnabledException"
    default = "The specified policy type is already enabled in the specified root."


class PolicyTypeNotEnabledException(_Described):
    code = "PolicyTypeNotEnabledException"
    default = (
        "The specified policy type isn't currently enabled in this root. You can't attach "
        "policies of the specified type to entities in a root until you enable that type in "
        "the root."
    )


class PolicyTypeNotAvailableForOrganizationException(_Described):
    code = "PolicyTypeNotAvailableForOrganizationException"
    default = (
        "You can't use the specified policy type with the feature set currently enabled for "
        "this organization. For example, you can enable SCPs only after you enable all "
        "features in the organization."
    )


def not_in_use() -> AWSOrganizationsNotInUseException:
    return AWSOrganizationsNotInUseException()


def management_only() -> AccessDeniedException:
    """What AWS answers a member account calling a management-account operation."""
    return AccessDeniedException("You don't have permissions to access this resource.")
