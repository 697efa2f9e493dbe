"""Cross-modality knowledge distillation (CD-KD, Liu et al., ICASSP 2023):
a compressed-domain student taught by a frozen raw-frame teacher.

* :mod:`jaxar.distill.losses` -- spatial (Eq. 4) and multi-birth temporal-graph
  (Eqs. 3, 5, 6) losses and the total of Eq. 7;
* :mod:`jaxar.distill.teacher` -- a frozen teacher from a jaxar checkpoint and
  its per-frame features;
* :mod:`jaxar.distill.step` -- the distillation task (Eq. 7 objective, frozen
  teacher) that the library's train / eval steps and loop run;
* :mod:`jaxar.distill.train` -- the run (``python -m jaxar.distill.train``):
  :func:`jaxar.train.loop.train_and_evaluate` with that task.

The student family is :mod:`jaxar.models.cdkd`; design notes in docs/cdkd.md.
"""
