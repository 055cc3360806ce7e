"""The audit plugin: the audit trail's REST API (`/api/audit`)."""
