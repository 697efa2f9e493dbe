"""Model families other than X3D-UGT, each one config dataclass + Flax module.

Every family config is a frozen dataclass with ``num_classes``, ``frames``,
``size``, ``impl`` and ``dtype`` fields, ``replace(**kw)``, ``input_shape``
``(T, H, W, 3)`` and ``build() -> flax.linen.Module``; the module maps
channels-last clips ``(N, T, H, W, 3)`` to float32 logits ``(N, classes)``.
``small(**overrides)`` returns a narrow, shallow copy for fast tests. The
built module provides ``deploy_params`` / ``deploy_apply``, the deploy-form
protocol of :mod:`jaxar.deploy`.

* :mod:`jaxar.models.x3d` -- X3D-XS/S/M (Feichtenhofer, CVPR 2020).
"""
