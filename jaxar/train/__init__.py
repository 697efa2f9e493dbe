"""Training: config, data interface, state, steps, loop (with one extension
point, :class:`jaxar.train.task.Task`), evaluation, demo.

Entry points: ``python -m jaxar.train`` (train/resume), ``python -m
jaxar.evaluate``, ``python -m jaxar.train.demo`` (the synthetic end-to-end
demo). Library: :func:`jaxar.train.loop.train_and_evaluate`,
:func:`jaxar.train.evaluation.evaluate`, :func:`jaxar.train.demo.run`.
"""
