"""The posture plugin's permissions."""

from __future__ import annotations

from greenroom.kernel import Permission

REPORT_READ = Permission("posture.report.read", "read", None, "read the running configuration's posture report")

ALL = (REPORT_READ,)
