#!/usr/bin/env python3
"""A recording stand-in for the GitHub CLI, for tests of the workflow glue.

Every call is appended to $GH_LOG as a JSON list; answers come from, and
changes go to, a small JSON state file $GH_STATE:
{"prs": [{"number", "head", "isDraft"}], "comments": {"<n>": [{"id", "body"}]},
 "issues": [{"number", "label", "state", "comments"}], "runs": []}
Only the calls the glue scripts make are understood; anything else fails.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    with Path(os.environ["GH_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    state_path = Path(os.environ["GH_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    prs = state.setdefault("prs", [])
    comments = state.setdefault("comments", {})
    issues = state.setdefault("issues", [])

    def opt(name: str) -> str:
        return args[args.index(name) + 1]

    out: object = None
    match args[:2]:
        case ["pr", "list"]:
            out = [
                {"number": p["number"], "isDraft": p["isDraft"]}
                for p in prs
                if p["head"] == opt("--head")
            ]
        case ["pr", "create"]:
            prs.append(
                {"number": len(prs) + 1, "head": opt("--head"), "isDraft": "--draft" in args}
            )
        case ["pr", "comment"]:
            thread = comments.setdefault(args[2], [])
            thread.append({"id": 100 * int(args[2]) + len(thread), "body": sys.stdin.read()})
        case ["pr", "ready"]:
            pr = next(p for p in prs if p["number"] == int(args[2]))
            pr["isDraft"] = "--undo" in args
        case ["api", *_]:
            path = next(a for a in args if a.startswith("repos/"))
            if "-X" in args:
                cid = int(path.rsplit("/", 1)[1])
                for thread in comments.values():
                    for comment in thread:
                        if comment["id"] == cid:
                            comment["body"] = sys.stdin.read()
            else:
                out = comments.get(path.split("/")[-2], [])
        case ["issue", "list"]:
            out = [
                {"number": i["number"]}
                for i in issues
                if i["label"] == opt("--label") and i["state"] == "open"
            ]
        case ["issue", "create"]:
            issues.append(
                {
                    "number": len(issues) + 1,
                    "label": opt("--label"),
                    "state": "open",
                    "comments": 0,
                }
            )
        case ["issue", "comment"]:
            issues[int(args[2]) - 1]["comments"] += 1
        case ["issue", "close"]:
            issues[int(args[2]) - 1]["state"] = "closed"
        case ["label", "create"] | ["workflow", "run"]:
            pass
        case _:
            print(f"fake gh: unsupported call {args}", file=sys.stderr)
            return 2
    state_path.write_text(json.dumps(state))
    if out is not None:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
