"""``python -m converter``: the same CLI as the ``convert`` console script."""

from converter.cli import main

main()
