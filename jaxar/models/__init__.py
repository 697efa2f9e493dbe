"""Model families other than X3D-UGT, each one config dataclass + Flax module.

Every family config is a frozen dataclass with ``num_classes``, ``frames``,
``size``, ``impl`` and ``dtype`` fields, ``replace(**kw)``, ``input_shape``
``(T, H, W, 3)`` and ``build() -> flax.linen.Module``; the module maps
channels-last clips ``(N, T, H, W, 3)`` to float32 logits ``(N, classes)``.
Families with a deploy form also provide ``deploy_functions()`` returning
``(reparameterize, deploy_apply)`` for :class:`jaxar.deploy.DeployModel`.

* :mod:`jaxar.models.x3d` -- X3D-XS/S/M (Feichtenhofer, CVPR 2020).
"""
