"""python -m jaxar.train --config experiments/ablations.py:tada_s3 --workdir runs/ablations/tada_s3 --config.data.data_dir=/data/tfds

The X3D-UGT ablations on NTU RGB+D 60 cross-subject, one config per argument;
each is ``experiments/ntu60_xsub.py`` (the default model: TAda in the first two
blocks of stages 3+4, 962 K parameters; Poly-1 loss) with one field changed:

==========  ==================================  =========================================
argument    changed field                       paper
==========  ==================================  =========================================
tada_all    model.variant = x3d_ugt_tada_all    Table 2: TAda in all four stages (v1, 965 K)
tada_s12    model.variant = x3d_ugt_tada_s12    Table 2: stages 1+2 (930 K)
tada_s3     model.variant = x3d_ugt_tada_s3     Table 2: stage 3 only (934 K)
tada_s4     model.variant = x3d_ugt_tada_s4     Table 2: stage 4 only (955 K)
no_poly1    loss.name = ce                      section 4.3: plain cross-entropy (Poly-1 adds 0.11 %)
==========  ==================================  =========================================
"""
from pathlib import Path

from jaxar.train.config import load_config

BASE = Path(__file__).resolve().parent / "ntu60_xsub.py"
ABLATIONS = {                     # argument -> (section, field, value)
    "tada_all": ("model", "variant", "x3d_ugt_tada_all"),
    "tada_s12": ("model", "variant", "x3d_ugt_tada_s12"),
    "tada_s3": ("model", "variant", "x3d_ugt_tada_s3"),
    "tada_s4": ("model", "variant", "x3d_ugt_tada_s4"),
    "no_poly1": ("loss", "name", "ce"),
}


def get_config(arg: str | None = None):
    if arg not in ABLATIONS:
        raise ValueError(f"experiments/ablations.py: give one of {sorted(ABLATIONS)} after the file "
                         f"name (e.g. experiments/ablations.py:tada_s3), got {arg!r}")
    section, field, value = ABLATIONS[arg]
    c = load_config(BASE)
    c[section][field] = value
    return c
