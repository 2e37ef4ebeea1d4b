"""The package version, in a module of its own so every layer can read it.

Importing the root package for ``__version__`` would make each layer depend
on ``geomm/__init__.py``, which in turn reaches up into the layers.
"""

__version__ = "0.1.0"
