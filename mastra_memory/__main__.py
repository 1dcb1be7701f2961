"""``python -m mastra_memory``: the command line (see :mod:`mastra_memory.cli`)."""

from mastra_memory.cli import main

main()
