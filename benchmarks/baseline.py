"""The minimal python-tuf script a benchmark compares tufrepo against.

It does the same metadata work as each tufrepo command, with nothing else:
no git, no validation beyond signatures, no policy.  Sub-commands, each run
as its own process by bench.py:

    baseline.py targets CHECKOUT KEY      hash targets/, build + sign + write targets.json
    baseline.py status CHECKOUT           parse root/targets, verify targets' signatures, re-hash files
    baseline.py online CHECKOUT KEY       read targets versions, new snapshot + timestamp, sign, write
    baseline.py publish CHECKOUT OUT      versioned metadata copies + hash-prefixed artifacts
    baseline.py client URL ROOT TARGET    ngclient refresh and one download

For bench_million.py (hash bins, artifacts listed in a manifest):

    baseline.py bins MANIFEST OUT COUNT [KEY]  parse the JSONL manifest, place each entry in
                                               one of COUNT hash bins (path_hash_prefixes),
                                               write the delegator + bins (signed with KEY)
    baseline.py sign DIR KEY                   load, sign and rewrite every *.json in DIR
    baseline.py snapshot DIR KEY               snapshot of every targets role in DIR + timestamp
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
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


def bins(manifest: Path, out: Path, count: int, key: str | None) -> None:
    signer = _signer(key) if key else None
    expires = datetime.now(UTC) + timedelta(days=365)
    length = max(1, math.ceil((count.bit_length() - 1) / 4))
    per_bin = 16**length // count
    names = [f"releases-bin-{i:0{max(2, len(f'{count - 1:x}'))}x}" for i in range(count)]
    placed: list[dict[str, TargetFile]] = [{} for _ in range(count)]
    with manifest.open("rb") as lines:
        for line in lines:
            value = json.loads(line)
            path = value["path"]
            prefix = int(hashlib.sha256(path.encode()).hexdigest()[:length], 16)
            placed[prefix // per_bin][path] = TargetFile(value["length"], value["hashes"], path)
    keyids = [signer.public_key.keyid] if signer else []
    delegator = Metadata(Targets(expires=expires))
    delegator.signed.delegations = Delegations(
        keys={signer.public_key.keyid: signer.public_key} if signer else {},
        roles={
            name: DelegatedRole(
                name,
                keyids,
                1,
                terminating=True,
                path_hash_prefixes=[
                    f"{p:0{length}x}" for p in range(i * per_bin, (i + 1) * per_bin)
                ],
            )
            for i, name in enumerate(names)
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    roles = [("releases", delegator)]
    roles += [
        (n, Metadata(Targets(expires=expires, targets=t)))
        for n, t in zip(names, placed, strict=True)
    ]
    for name, md in roles:
        if signer:
            md.sign(signer)
        (out / f"{name}.json").write_bytes(SER.serialize(md))


def sign(directory: Path, key: str) -> None:
    signer = _signer(key)
    for path in sorted(directory.glob("*.json")):
        md = Metadata.from_file(str(path))
        md.sign(signer)
        path.write_bytes(SER.serialize(md))


def snapshot_all(directory: Path, key: str) -> None:
    signer = _signer(key)
    snapshot = Metadata(Snapshot(expires=datetime.now(UTC) + timedelta(days=365)))
    for path in sorted(directory.glob("*.json")):
        signed: object = Metadata.from_file(str(path)).signed
        if isinstance(signed, Targets):
            snapshot.signed.meta[path.name] = MetaFile(version=signed.version)
    snapshot.sign(signer)
    timestamp = Metadata(Timestamp(expires=datetime.now(UTC) + timedelta(days=2)))
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
    timestamp.sign(signer)
    with tempfile.TemporaryDirectory() as out:
        (Path(out) / "snapshot.json").write_bytes(SER.serialize(snapshot))
        (Path(out) / "timestamp.json").write_bytes(SER.serialize(timestamp))


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
    elif cmd == "bins":
        bins(Path(args[0]), Path(args[1]), int(args[2]), args[3] if len(args) > 3 else None)
    elif cmd == "sign":
        sign(Path(args[0]), args[1])
    elif cmd == "snapshot":
        snapshot_all(Path(args[0]), args[1])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
