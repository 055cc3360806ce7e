"""How documentation from repositories is built and where the built sites live."""

from __future__ import annotations

from collections.abc import Iterator

from greenroom.posture.checks.common import by_deployment
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Severity
from greenroom.posture.registry import Hit, check

WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - the directories being looked for


@check(
    id="GR-DOCS-001",
    title="TechDocs generator runs on the backend host",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="techdocs",
    why="""With `builder: local` and `generator.runIn: local`, MkDocs runs inside the backend
    process's environment on `mkdocs.yml` and Markdown from any registered repository: a
    malicious docs tree can use MkDocs plugins and extensions to read files and the backend's
    secrets.""",
    remediation="""
        techdocs:
          builder: external          # build in CI with techdocs-cli, publish to object storage
          # or, if the backend must build: run the generator in a container
          generator:
            runIn: docker
    """,
)
def local_generator(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `techdocs.builder: local` (the default) together with `techdocs.generator.runIn: local` (or
    the older `techdocs.generators.techdocs: local`)."""
    techdocs = ctx.mapping("techdocs")
    if not techdocs or ctx.unresolved_under("techdocs.builder") or ctx.unresolved_under("techdocs.generator"):
        return
    builder = str(techdocs.get("builder", "local")).strip()
    if builder != "local":
        return
    generator = techdocs.get("generator") if isinstance(techdocs.get("generator"), dict) else {}
    legacy = techdocs.get("generators") if isinstance(techdocs.get("generators"), dict) else {}
    run_in = (generator or {}).get("runIn") or (legacy or {}).get("techdocs") or "docker"
    if str(run_in).strip() != "local":
        return
    key = "techdocs.generator.runIn" if (generator or {}).get("runIn") else "techdocs.generators.techdocs"
    yield Hit(
        "documentation from repositories is generated with MkDocs on the backend host",
        key=key,
        evidence=f"builder: {builder}, runIn: {run_in}",
        severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM),
    )


@check(
    id="GR-DOCS-002",
    title="TechDocs published to local disk",
    severity=Severity.MEDIUM,
    severity_note="medium for a world-writable directory, low for the local publisher in production",
    category="techdocs",
    why="""The local publisher serves sites from the backend's disk: under /tmp any local user can
    plant pages that the portal serves on its own origin, and in production the sites are not
    shared between replicas or kept across redeploys.""",
    remediation="""
        techdocs:
          builder: external
          publisher:
            type: awsS3
            awsS3:
              bucketName: ${TECHDOCS_BUCKET}
              region: eu-west-1
    """,
)
def local_publisher(ctx: AuditContext) -> Iterator[Hit]:
    """Reports a local TechDocs publisher whose `publishDirectory` is under /tmp, /var/tmp or /dev/shm, and
    (low) the local publisher in production."""
    techdocs = ctx.mapping("techdocs")
    if not techdocs:
        return
    publisher = techdocs.get("publisher") if isinstance(techdocs.get("publisher"), dict) else {}
    kind = str((publisher or {}).get("type", "local")).strip()
    if kind != "local":
        return
    directory = ctx.get("techdocs.publisher.local.publishDirectory")
    if isinstance(directory, str) and directory.rstrip("/").startswith(WORLD_WRITABLE):
        yield Hit(
            f"TechDocs sites are published to the world-writable {directory}",
            key="techdocs.publisher.local.publishDirectory",
            evidence=f"publishDirectory: {directory}",
            severity=Severity.MEDIUM,
        )
    elif ctx.production:
        yield Hit(
            "production TechDocs sites are kept on the backend's local disk",
            key="techdocs.publisher.type" if publisher else "techdocs",
            evidence=f"publisher.type: {kind}",
            severity=Severity.LOW,
        )
