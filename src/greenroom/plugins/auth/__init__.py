"""The auth plugin: Backstage's auth-backend routes under `/api/auth` and the identity providers."""
