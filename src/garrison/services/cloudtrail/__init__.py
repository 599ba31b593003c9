"""CloudTrail: LookupEvents over Garrison's own audit trail."""
