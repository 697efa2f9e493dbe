"""Whole networks built from :mod:`jaxar.modules`, one family per file."""
