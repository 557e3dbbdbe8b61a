"""Offline builders of the tables shipped in ``jaxmf/data`` (``jaxmf eta-table``,
``jaxmf goe-table``); nothing at run time imports them."""
