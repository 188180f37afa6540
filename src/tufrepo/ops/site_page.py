"""The status page of a published repository: ``index.html`` at the site's top.

What a visitor (a user checking a release, a maintainer before a signing
event) wants on one page: every role's version, signers and threshold, keys,
expiry and a timeline of its signing period (roles inside it, or close to
expiry, are highlighted), what each targets role delegates and to whom,
links to each role's JSON, the git commit the site was built from, how to
download an artifact through TUF, and the artifact list::

    page = render_status_page(repo, now, links=SiteLinks("metadata", "targets"),
                              source_commit="0123abcd…")

The page is self-contained and needs no JavaScript: one small inline script
(allowed by its hash in the page's Content-Security-Policy, nothing else may
run) only adds a search box over the artifacts and fills in the site's URL in
the examples.  Every value taken from metadata is HTML-escaped text, and
links are percent-encoded paths relative to the page.

Pure: metadata and time in, a string out (standard library only: html,
string building).  Not for: writing files (``ops.publish``), judging the
repository (``checks``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import posixpath
import shlex
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from tuf.api.metadata import Targets

from tufrepo import __version__
from tufrepo.core import fields
from tufrepo.core.constants import ROOT, SNAPSHOT, TIMESTAMP
from tufrepo.core.delegations import delegated_keys
from tufrepo.errors import RejectedError

if TYPE_CHECKING:
    from datetime import datetime

    from tuf.api.metadata import DelegatedRole, Key

    from tufrepo.core.fields import Periods
    from tufrepo.core.repository import TufRepository


@dataclass(frozen=True)
class SiteLinks:
    """Where the page finds things on the site, relative to the page (the site's top).

    Attributes:
        metadata_path: the metadata directory (``.`` for the top level).
        targets_path: the artifacts directory, or None when artifacts are
            not published with this site (no download links then).
    """

    metadata_path: str = "metadata"
    targets_path: str | None = "targets"

    def metadata(self, name: str) -> str:
        """The relative URL of a metadata file."""
        return _href(self.metadata_path, name)

    def artifact(self, prefixed_path: str) -> str | None:
        """The relative URL of a hash-prefixed artifact, or None when not published here."""
        return None if self.targets_path is None else _href(self.targets_path, prefixed_path)


def _href(directory: str, name: str) -> str:
    path = posixpath.normpath(posixpath.join(directory, name))
    return quote(path, safe="/")


# --- what the page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class RoleState:
    """Where a role is in its life: ``valid``, ``signing``, ``expiring`` or ``expired``.

    ``signing``: inside its signing period, re-signing is due.  ``expiring``:
    more than half of the signing period is gone (what ``tufrepo test-client``
    fails on by default).
    """

    key: str
    label: str


VALID = RoleState("valid", "valid")
SIGNING = RoleState("signing", "in signing period")
EXPIRING = RoleState("expiring", "expires soon")
EXPIRED = RoleState("expired", "expired")


def role_state(expires: datetime, periods: Periods | None, now: datetime) -> RoleState:
    """The state of a role expiring at ``expires`` with ``periods`` (None: unknown) at ``now``."""
    if now >= expires:
        return EXPIRED
    if periods is None:
        return VALID
    signing = timedelta(days=periods.signing)
    if now >= expires - signing / 2:
        return EXPIRING
    if now >= expires - signing:
        return SIGNING
    return VALID


@dataclass(frozen=True)
class _Role:
    name: str
    version: int
    delegator: str
    threshold: int
    keys: tuple[Key, ...]
    expires: datetime
    periods: Periods | None
    href: str
    delegations: tuple[DelegatedRole, ...]
    state: RoleState


@dataclass(frozen=True)
class _Artifact:
    path: str
    role: str
    length: int
    sha256: str
    href: str | None


def _roles(repo: TufRepository, links: SiteLinks, now: datetime) -> list[_Role]:
    root = repo.root_or_none()
    roles = []
    for role in [ROOT, TIMESTAMP, SNAPSHOT, *repo.targets_roles()]:
        md = repo.read_for_display(role)  # #14: a bin judged before is not parsed
        delegator = repo.delegator(role)
        if md is None or delegator is None:
            continue
        try:
            periods: Periods | None = fields.get_periods(root, role, md.signed)
        except RejectedError:
            periods = None
        name = "timestamp.json" if role == TIMESTAMP else f"{md.signed.version}.{role}.json"
        signed = md.signed
        delegations = (
            tuple((signed.delegations.roles or {}).values())
            if isinstance(signed, Targets) and signed.delegations is not None
            else ()
        )
        roles.append(
            _Role(
                name=role,
                version=signed.version,
                delegator=repo.delegator_name(role) or ROOT,
                threshold=delegator.get_delegated_role(role).threshold,
                keys=tuple(delegated_keys(delegator, role)),
                expires=signed.expires,
                periods=periods,
                href=links.metadata(name),
                delegations=delegations,
                state=role_state(signed.expires, periods, now),
            )
        )
    return roles


# A page for people: past this many rows a table is no longer read, only
# downloaded (#14: 100,000 artifacts made a 30 MB page).  The metadata lists all.
MAX_ARTIFACT_ROWS = 1_000


def _artifacts(repo: TufRepository, links: SiteLinks) -> tuple[list[_Artifact], bool]:
    """The artifacts shown, role by role in tree order, and whether there are more.

    Roles past the first :data:`MAX_ARTIFACT_ROWS` rows are not read.
    """
    artifacts: list[_Artifact] = []
    for role in repo.targets_roles():
        md = repo.read_targets(role)
        for path, info in sorted(md.signed.targets.items()) if md else []:
            if len(artifacts) == MAX_ARTIFACT_ROWS:
                return artifacts, True
            prefixed = info.get_prefixed_paths()
            artifacts.append(
                _Artifact(
                    path=path,
                    role=role,
                    length=info.length,
                    sha256=info.hashes.get("sha256", "-"),
                    href=links.artifact(prefixed[0]) if prefixed else None,
                )
            )
    return artifacts, False


# --- rendering ---------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(when: datetime) -> str:
    return f"{when:%Y-%m-%d}"


def _time(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _left(expires: datetime, now: datetime) -> str:
    left = expires - now
    if left <= timedelta(0):
        return "expired"
    if left < timedelta(days=2):
        return f"{left.total_seconds() / 3600:.0f} h left"
    return f"{left.days} days left"


def _anchor(role: str) -> str:
    # An id derived from the name but safe in a URL fragment whatever the name holds.
    return "role-" + hashlib.sha256(role.encode()).hexdigest()[:12]


def _signers(role: _Role) -> str:
    names = ", ".join(sorted(fields.key_label(k) for k in role.keys)) or "no keys"
    return f"{_e(names)} <span class=dim>({role.threshold} of {len(role.keys)} required)</span>"


def _summary(roles: list[_Role], now: datetime) -> str:
    rows = []
    for role in roles:
        rows.append(
            f'<tr class="state-{role.state.key}" data-role="{_e(role.name)}">'
            f'<th scope=row><a href="#{_anchor(role.name)}">{_e(role.name)}</a></th>'
            f"<td>{role.version}</td>"
            f"<td>{_signers(role)}</td>"
            f"<td>{_e(_time(role.expires))} "
            f'<span class="dim left">({_e(_left(role.expires, now))})</span></td>'
            f'<td><span class="badge {role.state.key}">{_e(role.state.label)}</span></td>'
            f'<td><a href="{_e(role.href)}">JSON</a></td>'
            "</tr>"
        )
    return (
        "<table class=roles><thead><tr><th>Role</th><th>Version</th><th>Signers</th>"
        "<th>Expires</th><th>State</th><th>Metadata</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _timeline(roles: list[_Role], now: datetime) -> str:
    """One bar per role spanning its expiry period; the signing period is its shaded end."""
    rows = []
    for role in roles:
        if role.periods is None:
            bar = '<div class="bar none">no expiry policy in the metadata</div>'
            note = ""
        else:
            span = timedelta(days=role.periods.expiry)
            signing = timedelta(days=min(role.periods.signing, role.periods.expiry))
            start = role.expires - span
            sign_from = role.expires - signing
            signing_pct = 100 * signing / span
            now_pct = min(100.0, max(0.0, 100 * (now - start) / span))
            bar = (
                '<div class="bar">'
                f'<span class="signing" style="left:{100 - signing_pct:.2f}%;'
                f'width:{signing_pct:.2f}%"></span>'
                f'<span class="now" style="left:{now_pct:.2f}%" title="now"></span>'
                "</div>"
            )
            note = (
                f"expiry period {role.periods.expiry} d, signing period {role.periods.signing} d: "
                f"re-signing due from {_day(sign_from)}, expires {_day(role.expires)}"
            )
        rows.append(
            f'<li class="state-{role.state.key}" data-role="{_e(role.name)}">'
            f"<span class=name>{_e(role.name)}</span>{bar}"
            f"<span class=note>{_e(note)}</span></li>"
        )
    return "<ol class=timeline>" + "".join(rows) + "</ol>"


def _keys_table(role: _Role) -> str:
    rows = []
    for key in sorted(role.keys, key=lambda k: (fields.key_label(k), k.keyid)):
        online = fields.online_uri(key)
        kind = "online" if online else "offline"
        rows.append(
            f"<tr><td>{_e(fields.key_label(key))}</td><td>{kind}</td>"
            f"<td>{_e(key.keytype)} / {_e(key.scheme)}</td>"
            f"<td><code>{_e(key.keyid)}</code></td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4">no keys</td></tr>'
    return (
        "<table class=keys><thead><tr><th>Signer</th><th>Kind</th><th>Type / scheme</th>"
        f"<th>Key id</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _delegations_list(role: _Role, known: set[str]) -> str:
    if not role.delegations:
        return ""
    items = []
    for child in role.delegations:
        if child.paths is not None:
            scope = "paths " + ", ".join(f"<code>{_e(p)}</code>" for p in child.paths)
        elif child.path_hash_prefixes is not None:
            prefixes = child.path_hash_prefixes
            shown = ", ".join(f"<code>{_e(p)}</code>" for p in prefixes[:8])
            more = f" and {len(prefixes) - 8} more" if len(prefixes) > 8 else ""
            scope = f"path hash prefixes {shown}{more}"
        else:
            scope = "no paths"
        name = (
            f'<a href="#{_anchor(child.name)}">{_e(child.name)}</a>'
            if child.name in known
            else _e(child.name)
        )
        terminating = ", terminating" if child.terminating else ""
        items.append(
            f"<li>{name}: {scope} <span class=dim>(threshold {child.threshold} of "
            f"{len(child.keyids)}{terminating})</span></li>"
        )
    return "<h4>Delegates</h4><ul class=delegations>" + "".join(items) + "</ul>"


def _details(roles: list[_Role]) -> str:
    known = {role.name for role in roles}
    sections = []
    for role in roles:
        periods = (
            f"expiry period {role.periods.expiry} days, signing period {role.periods.signing} days"
            if role.periods
            else "no expiry or signing period in the metadata"
        )
        sections.append(
            f'<section class="role state-{role.state.key}" id="{_anchor(role.name)}">'
            f"<h3>{_e(role.name)} <span class=dim>v{role.version}</span></h3>"
            f"<p>Delegated by {_e(role.delegator)}; threshold {role.threshold} of "
            f"{len(role.keys)}. Expires {_e(_time(role.expires))} ({_e(periods)}). "
            f'<a href="{_e(role.href)}">{_e(posixpath.basename(role.href))}</a></p>'
            f"{_keys_table(role)}{_delegations_list(role, known)}</section>"
        )
    return "".join(sections)


def _more_note(more: bool) -> str:
    if not more:
        return ""
    return (
        f"<p>The first {MAX_ARTIFACT_ROWS:,} artifacts are listed here. The targets metadata "
        "lists every one, and a TUF client finds any of them.</p>\n"
    )


def _artifacts_table(artifacts: list[_Artifact]) -> str:
    rows = []
    for item in artifacts:
        path = f"<code>{_e(item.path)}</code>"
        if item.href is not None:
            path = f'<a href="{_e(item.href)}">{path}</a>'
        rows.append(
            f"<tr><td>{path}</td><td>{_e(item.role)}</td><td>{item.length}</td>"
            f"<td><code>{_e(item.sha256)}</code></td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4">none</td></tr>'
    return (
        '<input id=filter type=search placeholder="Filter artifacts" hidden '
        'aria-label="Filter artifacts">'
        "<table id=artifacts><thead><tr><th>Target path</th><th>Role</th>"
        f"<th>Size (bytes)</th><th>SHA-256</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _verify(links: SiteLinks, example: str, source_commit: str | None) -> str:
    shell_path = _e(shlex.quote(example))  # a path with spaces or quotes stays one word
    python_path = _e(json.dumps(example))  # a valid Python string literal
    site = "<span class=site-url>https://&lt;this site&gt;</span>"
    metadata = f"{site}/{_e(links.metadata_path.strip('/'))}".removesuffix("/.")
    targets = (
        f"{site}/{_e(links.targets_path.strip('/'))}".removesuffix("/.")
        if links.targets_path is not None
        else "https://&lt;where the artifacts are served&gt;"
    )
    where = f" at commit <code>{_e(source_commit)}</code>" if source_commit else ""
    return (
        "<p>Pin the first root: take <code>metadata/root_history/1.root.json</code> from the "
        f"repository's git history{where}, or from a source you already trust, not from this "
        "site. Clients then walk every later root from here and check every signature, "
        "version and expiry before they download anything.</p>"
        "<p>With tufrepo:</p><pre><code>"
        f"tufrepo download {shell_path} --metadata-url {metadata} \\\n"
        f"    --targets-url {targets} --root 1.root.json -o downloaded-file\n"
        f"tufrepo test-client {metadata} --root 1.root.json   # the smoke test</code></pre>"
        "<p>With python-tuf (<code>pip install tuf</code>):</p><pre><code>"
        "from pathlib import Path\n"
        "from tuf.ngclient import Updater\n\n"
        'Path("tuf-cache").mkdir(exist_ok=True)\n'
        "updater = Updater(\n"
        '    metadata_dir="tuf-cache",\n'
        f'    metadata_base_url="{metadata}/",\n'
        f'    target_base_url="{targets}/",\n'
        '    target_dir="downloads",\n'
        '    bootstrap=Path("1.root.json").read_bytes(),\n'
        ")\n"
        "updater.refresh()\n"
        f"info = updater.get_targetinfo({python_path})\n"
        "print(updater.download_target(info))  # length and hashes verified</code></pre>"
    )


# Progressive enhancement only: without it the page shows everything.
_SCRIPT = (
    "(function(){"
    'var base=new URL(".",location.href).href.replace(/\\/$/,"");'
    'document.querySelectorAll(".site-url").forEach(function(e){e.textContent=base;});'
    'var box=document.getElementById("filter");if(!box)return;box.hidden=false;'
    'var rows=document.querySelectorAll("#artifacts tbody tr");'
    'box.addEventListener("input",function(){var q=box.value.toLowerCase();'
    'rows.forEach(function(r){r.hidden=q!==""&&r.textContent.toLowerCase().indexOf(q)<0;});});'
    "})();"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
    "base-uri 'none'; form-action 'none'"
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
th,td{border-bottom:1px solid #e4e4e4;padding:.35em .6em;text-align:left;vertical-align:top}
thead th{background:#f4f4f4}
code{font-size:.88em;word-break:break-all}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
.dim{color:#666;font-size:.9em}.left{display:block}
.badge{border-radius:.8em;padding:.1em .6em;font-size:.85em;background:#e6f4ea;color:#1e6b34}
.badge.signing{background:#fff4d6;color:#7a5200}.badge.expiring,.badge.expired{background:#fde2e1;color:#9b1c1c}
tr.state-signing{background:#fffbef}tr.state-expiring,tr.state-expired{background:#fff1f0}
.timeline{list-style:none;padding:0}
.timeline li{display:grid;grid-template-columns:10em 1fr;gap:.2em 1em;margin:.5em 0}
.timeline .name{font-weight:600;word-break:break-all}.timeline .note{grid-column:2;color:#666;font-size:.85em}
.bar{position:relative;height:1.1em;background:#dcefe1;border-radius:.3em}
.bar.none{background:#eee;color:#666;font-size:.8em;padding-left:.5em}
.bar .signing{position:absolute;top:0;bottom:0;background:#f5c451;border-radius:0 .3em .3em 0}
.state-expiring .bar .signing,.state-expired .bar .signing{background:#e5534b}
.bar .now{position:absolute;top:-.25em;bottom:-.25em;width:3px;margin-left:-1px;background:#222}
.legend span{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 1em;vertical-align:middle}
section.role{border-left:4px solid #9bd1a9;padding-left:1em;margin:1.2em 0}
section.state-signing{border-color:#f5c451}section.state-expiring,section.state-expired{border-color:#e5534b}
#status{padding:.5em .8em;border-radius:.3em;background:#e6f4ea}
#status.attention{background:#fff4d6}
#filter{width:100%;padding:.4em;margin:.5em 0;font-size:1em}
footer{color:#666;font-size:.9em;margin-top:2em}
"""


def render_status_page(
    repo: TufRepository,
    now: datetime,
    *,
    links: SiteLinks | None = None,
    source_commit: str | None = None,
) -> str:
    """The status page (``index.html`` at the top of the site).

    Args:
        repo: the repository state shown.
        now: the page's "generated at" time and the reference of every state.
        links: where metadata and artifacts are, relative to the page.
        source_commit: the git commit the site was built from, if known.

    Returns:
        A complete, self-contained HTML document.
    """
    links = links or SiteLinks()
    roles = _roles(repo, links, now)
    artifacts, more = _artifacts(repo, links)
    example = artifacts[0].path if artifacts else "PATH/OF/AN/ARTIFACT"
    attention = [r for r in roles if r.state is not VALID]
    if attention:
        status = "Needs attention: " + ", ".join(
            f"{_e(r.name)} ({_e(r.state.label)})" for r in attention
        )
    else:
        status = "Every role is valid and outside its signing period."
    commit = f"Built from commit <code>{_e(source_commit)}</code>. " if source_commit else ""
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name=viewport content="width=device-width, initial-scale=1">\n'
        "<title>TUF repository status</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        "<h1>TUF repository status</h1>\n"
        f"<p class=dim>{commit}Generated {_e(_time(now))} by tufrepo {_e(__version__)}.</p>\n"
        f'<p id=status class="{"attention" if attention else "ok"}">{status}</p>\n'
        f"<h2 id=roles>Roles</h2>\n{_summary(roles, now)}\n"
        "<h2 id=timeline>Signing periods</h2>\n"
        "<p class=legend>Each bar is one expiry period, ending at the role's expiry."
        '<span style="background:#dcefe1"></span>valid'
        '<span style="background:#f5c451"></span>signing period (re-signing due)'
        '<span style="background:#222;width:3px"></span>now</p>\n'
        f"{_timeline(roles, now)}\n"
        f"<h2 id=details>Keys and delegations</h2>\n{_details(roles)}\n"
        f"<h2 id=verify>Verify and download</h2>\n{_verify(links, example, source_commit)}\n"
        f"<h2 id=artifacts-heading>Artifacts ({len(artifacts)}{'+' if more else ''})</h2>\n"
        f"{_more_note(more)}{_artifacts_table(artifacts)}\n"
        f"<footer>Generated {_e(_time(now))} by tufrepo {_e(__version__)}.</footer>\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


def render_redirect(to: str) -> str:
    """A page that sends the visitor to ``to`` (a relative URL), with or without JavaScript."""
    target = _e(to)
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f'<meta http-equiv="refresh" content="0; url={target}">\n'
        "<title>TUF repository status</title>\n</head>\n<body>\n"
        f'<p>The status page is at <a href="{target}">{target}</a>.</p>\n</body>\n</html>\n'
    )
