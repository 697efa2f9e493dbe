"""jaxar/runtime is the bottom of the import graph: it is copied into every export
bundle and runs on a device with numpy + OpenCV (+ ONNX Runtime / TensorRT, loaded
by name at run time) and the standard library only."""
import ast
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "jaxar" / "runtime"
# onnxruntime / tensorrt: the inference engines (backends.py); av: PyAV, the optional
# compressed-domain reader (compressed_video.py imports it lazily, with an error naming it)
ALLOWED = {"numpy", "cv2", "onnxruntime", "tensorrt", "av"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level module)`` of every absolute import in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.append((node.lineno, node.module.split(".")[0]))
    return out


def test_runtime_imports_only_numpy_opencv_and_the_standard_library():
    files = sorted(RUNTIME.glob("*.py"))
    assert len(files) > 10 and (RUNTIME / "prefetch.py") in files and (RUNTIME / "files.py") in files
    bad = [f"{p.name}:{line}: {mod}" for p in files for line, mod in _imports(p)
           if mod not in ALLOWED and mod not in sys.stdlib_module_names and mod != "__future__"]
    assert bad == [], "jaxar/runtime must not import these: " + ", ".join(bad)


def test_the_check_sees_a_forbidden_import(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("import numpy as np\nfrom jaxar.registry import create_config\n"
                 "def f():\n    import jax\n    from . import files\n")
    assert [m for _, m in _imports(p)] == ["numpy", "jaxar", "jax"]
