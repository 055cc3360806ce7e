"""Role-based access control with Red Hat Developer Hub's policy files and REST API (`/api/permission`)."""
