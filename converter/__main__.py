"""``python -m converter``: the same CLI as the ``convert`` console script."""

from converter.launch import main

main()
