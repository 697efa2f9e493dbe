"""Recognise actions with an export bundle: ``python3 runtime/run.py``.

    python3 runtime/run.py video.mp4 --out results.jsonl
    python3 runtime/run.py --camera 0 --out live.jsonl
    python3 runtime/run.py --url rtsp://host/stream --max-seconds 60 --out live.jsonl

Needs only numpy, OpenCV and ONNX Runtime (or TensorRT + cuda-python for a
``model_*.plan`` engine). Reads ``labels.json``, ``preprocessing.json`` and
``metadata.json`` from the bundle (default: the directory above this
``runtime/`` folder). Same flags and output as ``python -m jaxar.predict``.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __package__:
    from .app import load_bundle, main as app_main
else:                                   # run as a script: load this folder as a package
    import importlib.util
    _spec = importlib.util.spec_from_file_location("_bundle_runtime", HERE / "__init__.py",
                                                   submodule_search_locations=[str(HERE)])
    _pkg = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _pkg
    _spec.loader.exec_module(_pkg)
    _app = importlib.import_module(f"{_spec.name}.app")
    load_bundle, app_main = _app.load_bundle, _app.main


def _load(a):
    return load_bundle(a.bundle, backend=a.backend, threads=a.threads)


def _add_arguments(parser):
    parser.add_argument("--bundle", default=str(HERE.parent),
                        help="export directory (default: the directory containing runtime/)")


def main(argv=None) -> int:
    return app_main(argv, _load, prog="runtime/run.py", description=__doc__.split("\n")[0],
                    backends=("onnxruntime", "tensorrt"), add_arguments=_add_arguments)


if __name__ == "__main__":
    sys.exit(main())
