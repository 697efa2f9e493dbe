"""Whole networks built from :mod:`jaxar.modules`, one family per file.

A family config follows the protocol of :mod:`jaxar.config`; the X3D
baselines' config also gives ``small(**overrides)``, a narrow, shallow copy
for fast tests, and its module the deploy-form protocol of :mod:`jaxar.deploy`.

* :mod:`jaxar.models.x3d` -- X3D-XS/S/M (Feichtenhofer, CVPR 2020).
"""
