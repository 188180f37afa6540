"""``python -m tufrepo``: the same as the ``tufrepo`` command."""

from tufrepo.cli import main

main()
