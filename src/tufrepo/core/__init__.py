"""The repository core: metadata files, layout, fields, parsing, the delegation walk.

``repository.TufRepository`` is a ``tuf.repository.Repository`` over a store.

Not for: git, deciding validity (``tufrepo.checks``), commands (``tufrepo.ops``).
"""
