"""Secrets Manager: secrets, versions and staging labels, values encrypted through KMS."""
