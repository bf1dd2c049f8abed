"""The side-by-side benchmark of the styles (``rosetta bench``)."""
