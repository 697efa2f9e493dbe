"""Every model family, one module each, built from :mod:`jaxar.modules`.

A family config is a frozen dataclass deriving from
:class:`jaxar.models.base.ModelConfigBase` (``family``, ``small()``,
``build()``); its network module provides the deploy protocol of
:mod:`jaxar.deploy` by listing its parts (:mod:`jaxar.deploy.network`).

* :mod:`jaxar.models.x3d_ugt` -- X3D-UGT, the paper's model.
* :mod:`jaxar.models.x3d` -- X3D-XS/S/M (Feichtenhofer, CVPR 2020).
* :mod:`jaxar.models.tsm_resnet`, :mod:`jaxar.models.tsm_mobilenetv2` -- TSM
  (Lin et al., ICCV 2019); shared pieces in :mod:`jaxar.models.tsm_common`.
* :mod:`jaxar.models.arc` -- ARC around TSM-ResNet.
"""
