"""Pretrained weights from other projects (PyTorchVideo, torchvision, timm, MMAction2,
the TSM authors) into jaxar models, and X3D-UGT back to PyTorch. See docs/weights.md.

``import_weights(file, model_config, fmt="auto") -> Imported`` (leaves + report);
``merge(fresh_variables, imported)``; ``python -m jaxar.weights inspect FILE``;
``python -m jaxar.weights to-torch --checkpoint RUN --out model.pt``.
The library never downloads; torch is needed only for ``.pth``/``.pyth`` files
(``pip install 'jaxar[torch]'``).
"""
from jaxar.weights.keymap import ImportReport, WeightImportError
from jaxar.weights.load import Imported, import_state_dict, import_weights, merge
from jaxar.weights.readers import TorchMissingError, read_state_dict

__all__ = ["ImportReport", "Imported", "TorchMissingError", "WeightImportError", "import_state_dict",
           "import_weights", "merge", "read_state_dict"]
