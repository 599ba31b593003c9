"""AWS Organizations: the organization tree, member accounts and service control policies."""
