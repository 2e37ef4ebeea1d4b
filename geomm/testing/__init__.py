"""Offline checks and factories for geomm's tests and for plugin authors.

Nothing here touches the network: STAC documents are validated against the
core JSON schemas that pystac ships, and COGs with rio-cogeo's layout check.
"""

from geomm.testing._factories import make_item, write_static_catalog
from geomm.testing._validate import assert_valid_cog, assert_valid_stac

__all__ = ["assert_valid_cog", "assert_valid_stac", "make_item", "write_static_catalog"]
