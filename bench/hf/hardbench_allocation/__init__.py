"""The ``hardbench_allocation`` evaluate module lives in ``hardbench_allocation.py`` next to this
file; this ``__init__`` only makes the folder part of the installed package."""
