"""``python -m aggregator``: the ``gpuhours`` command line, run by a chosen interpreter.

Useful where the ``gpuhours`` script is not on ``PATH`` (a virtual environment that is not
activated) and in tests that must run gpuhours under a particular Python.
"""

from aggregator.cli import main

if __name__ == "__main__":
    main()
