"""Identity: users, roles and permissions, passwords, MFA, tokens and sessions."""
