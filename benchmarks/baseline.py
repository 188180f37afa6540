"""The minimal python-tuf script a benchmark compares tufrepo against.

It does the same metadata work as each tufrepo command, with nothing else:
no git, no validation beyond signatures, no policy.  Sub-commands, each run
as its own process by bench.py:

    baseline.py targets CHECKOUT KEY      hash targets/, build + sign + write targets.json
    baseline.py status CHECKOUT           parse root/targets, verify targets' signatures, re-hash files
    baseline.py online CHECKOUT KEY       read targets versions, new snapshot + timestamp, sign, write
    baseline.py publish CHECKOUT OUT      versioned metadata copies + hash-prefixed artifacts
    baseline.py client URL ROOT TARGET    ngclient refresh and one download
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer
from tuf.ngclient import Updater

SER = JSONSerializer(compact=False)


def _signer(key_path: str) -> CryptoSigner:
    return CryptoSigner(load_pem_private_key(Path(key_path).read_bytes(), None))  # type: ignore[arg-type]


def targets(checkout: Path, key: str) -> None:
    md = Metadata(Targets(expires=datetime.now(UTC) + timedelta(days=365)))
    base = checkout / "targets"
    for path in sorted(base.rglob("*")):
        if path.is_file():
            name = path.relative_to(base).as_posix()
            md.signed.targets[name] = TargetFile.from_file(name, str(path), ["sha256"])
    md.sign(_signer(key))
    with tempfile.TemporaryDirectory() as out:  # same write work, outside the checkout
        (Path(out) / "targets.json").write_bytes(SER.serialize(md))


def status(checkout: Path) -> None:
    root = Metadata.from_file(str(checkout / "metadata" / "root.json"))
    md = Metadata.from_file(str(checkout / "metadata" / "targets.json"))
    root.signed.get_verification_result("targets", md.signed_bytes, md.signatures)
    for name, info in md.signed.targets.items():
        data = (checkout / "targets" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info.hashes["sha256"]


def online(checkout: Path, key: str) -> None:
    signer = _signer(key)
    targets_md = Metadata.from_file(str(checkout / "metadata" / "targets.json"))
    snapshot = Metadata(Snapshot(expires=datetime.now(UTC) + timedelta(days=365)))
    snapshot.signed.meta["targets.json"] = MetaFile(version=targets_md.signed.version)
    snapshot.sign(signer)
    timestamp = Metadata(Timestamp(expires=datetime.now(UTC) + timedelta(days=2)))
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
    timestamp.sign(signer)
    out = Path(tempfile.mkdtemp())
    (out / "snapshot.json").write_bytes(SER.serialize(snapshot))
    (out / "timestamp.json").write_bytes(SER.serialize(timestamp))
    shutil.rmtree(out)


def publish(checkout: Path, out: Path) -> None:
    meta = out / "metadata"
    meta.mkdir(parents=True)
    for path in (checkout / "metadata" / "root_history").iterdir():
        shutil.copy(path, meta / path.name)
    shutil.copy(checkout / "metadata" / "timestamp.json", meta / "timestamp.json")
    for role in ("snapshot", "targets"):
        md = Metadata.from_file(str(checkout / "metadata" / f"{role}.json"))
        shutil.copy(
            checkout / "metadata" / f"{role}.json", meta / f"{md.signed.version}.{role}.json"
        )
        if role == "targets":
            for name, info in md.signed.targets.items():
                dest = out / "targets" / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(
                    checkout / "targets" / name,
                    dest.with_name(f"{info.hashes['sha256']}.{dest.name}"),
                )


def client(url: str, root: str, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        updater = Updater(
            tmp, f"{url}/metadata/", tmp, f"{url}/targets/", bootstrap=Path(root).read_bytes()
        )
        updater.refresh()
        info = updater.get_targetinfo(target)
        assert info is not None
        updater.download_target(info)


def main() -> None:
    cmd, *args = sys.argv[1:]
    if cmd == "targets":
        targets(Path(args[0]), args[1])
    elif cmd == "status":
        status(Path(args[0]))
    elif cmd == "online":
        online(Path(args[0]), args[1])
    elif cmd == "publish":
        publish(Path(args[0]), Path(args[1]))
    elif cmd == "client":
        client(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
