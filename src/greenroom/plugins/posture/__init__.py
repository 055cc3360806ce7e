"""The posture plugin: the running portal's posture report over HTTP."""
