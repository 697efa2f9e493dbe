"""The PyTorch reference (jaxar/weights/torch_x3d_ugt.py) computes jaxar's network.

With the same weights (random, BN statistics and TAda's beta away from their
initial values so every path matters): eval logits, the train-mode loss, every
parameter gradient and the BN running statistics after one train-mode step agree
with :class:`jaxar.models.x3d_ugt.X3DUGT`; the parameter counts are equal. These make
the baseline of ``benchmarks/bench_torch_vs_jax.py`` trustworthy. jaxar runs its
``lowered`` formulation here (the quickest to compile); ``tests/test_ops.py`` and
``tests/test_train_formulations.py`` prove the others compute the same.
"""
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip(
    "torch", reason="the PyTorch reference is a benchmark-only dependency: "
                    "pip install -r requirements-bench.txt (.ci/run installs it)")

from jaxar.weights import torch_x3d_ugt as tref  # noqa: E402
from jaxar.initialization import fast_compile_options  # noqa: E402
from jaxar.registry import create_config  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _leaves(tree) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(v, np.float64)
            for p, v in jax.tree_util.tree_leaves_with_path(tree)}


@pytest.fixture(scope="module")
def setup():
    """Config, jaxar variables, the torch model loaded from them, one input batch."""
    cfg = create_config("x3d_ugt_tiny", frames=4, size=32, dropout=0.0, impl="lowered")
    torch.manual_seed(0)
    source = tref.X3DUGT(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():              # move BN and TAda off their initial values
        for mod in source.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                c = mod.num_features
                mod.weight.copy_(0.5 + torch.rand(c, generator=g))
                mod.bias.copy_(0.1 * torch.randn(c, generator=g))
                mod.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
            elif isinstance(mod, tref.TAdaGate):      # a gate far from 1
                mod.beta.fill_(1.0)
                mod.reduce.weight.mul_(4.0)
                mod.expand.weight.mul_(4.0)
    variables = {"params": tref.to_jax_tree(source, "params"),
                 "batch_stats": tref.to_jax_tree(source, "batch_stats")}
    model = cfg.build()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *cfg.input_shape)).astype(np.float32)
    y = np.array([1, 3], np.int32)
    # the tree has exactly the names and shapes jaxar's module declares
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.asarray(x))
    assert jax.tree_util.tree_structure(shapes) == jax.tree_util.tree_structure(variables)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(shapes),
                            jax.tree_util.tree_leaves(variables)):
        assert a.shape == np.shape(b), jax.tree_util.keystr(path)
    variables = jax.tree_util.tree_map(jnp.asarray, variables)
    tmodel = tref.load_jax_variables(tref.X3DUGT(cfg), variables)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny shapes: extra OpenMP threads only wait on a shared CPU
    yield cfg, model, variables, tmodel, x, y
    torch.set_num_threads(threads)


def test_parameter_count_equals_jaxar(setup):
    cfg, _, variables, tmodel, _, _ = setup
    n_torch = sum(p.numel() for p in tmodel.parameters())
    n_jax = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(variables["params"]))
    assert n_torch == n_jax > 20_000


def test_eval_logits_agree(setup):
    _, model, variables, tmodel, x, _ = setup
    fn = jax.jit(lambda v, x: model.apply(v, x), compiler_options=fast_compile_options())
    want = np.asarray(fn(variables, x))
    tmodel.eval()
    with torch.no_grad():
        got = tmodel(tref.to_ncthw(x)).numpy()
    assert np.abs(want).max() > 1e-2          # not trivially zero
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)     # float32 noise: ~1e-7


def test_train_step_loss_gradients_and_running_stats_agree(setup):
    _, model, variables, _, x, y = setup
    tmodel = tref.load_jax_variables(tref.X3DUGT(setup[0]), variables)   # fresh BN buffers

    def loss_fn(params):
        logits, new = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                  train=True, mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new

    fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True), compiler_options=fast_compile_options())
    (loss_j, new_j), grads_j = fn(variables["params"])

    tmodel.train()
    tmodel.zero_grad(set_to_none=True)
    loss_t = torch.nn.functional.cross_entropy(tmodel(tref.to_ncthw(x)), torch.from_numpy(y).long())
    loss_t.backward()
    np.testing.assert_allclose(loss_t.item(), float(loss_j), rtol=1e-5)

    gj, gt = _leaves(grads_j), _leaves(tref.to_jax_tree(tmodel, "grad"))
    assert gj.keys() == gt.keys() and len(gj) > 100
    # float32 summation orders differ: each leaf's error against its own norm, with a floor
    # for leaves whose gradient is analytically zero (a BN bias feeding a train-mode BN)
    floor = 1e-5 * max(np.linalg.norm(v) for v in gj.values())
    for name, v in gj.items():
        err, ref = np.linalg.norm(gt[name] - v), np.linalg.norm(v)
        assert err <= 2e-3 * ref + floor, (name, err, ref)

    sj, st = _leaves(new_j["batch_stats"]), _leaves(tref.to_jax_tree(tmodel, "batch_stats"))
    assert sj.keys() == st.keys() and len(sj) > 50
    moved = 0
    for name, v in sj.items():
        np.testing.assert_allclose(st[name], v, rtol=1e-4, atol=1e-5, err_msg=name)
        moved += not np.allclose(v, _leaves(variables["batch_stats"])[name])
    assert moved == len(sj)                  # every BN saw a batch


def test_torch_shift_order_is_exact(setup, monkeypatch):
    """Shifting a block's input before the pre-depthwise conv equals shifting its output."""
    _, _, _, tmodel, x, _ = setup
    tmodel.eval()
    with torch.no_grad():
        after = tmodel(tref.to_ncthw(x))
        monkeypatch.setattr(tref.UIB3D, "shift_first", True)
        before = tmodel(tref.to_ncthw(x))
    np.testing.assert_allclose(before.numpy(), after.numpy(), rtol=1e-5, atol=1e-6)


TORCH_MODULE = ROOT / "jaxar" / "weights" / "torch_x3d_ugt.py"   # the PyTorch reference model itself


def _module_level_imports(path):
    """Top-level module names imported when ``path`` is imported (function bodies excluded)."""
    import ast
    found, todo = [], list(ast.parse(path.read_text(), str(path)).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            todo += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return found


def test_jaxar_imports_torch_only_lazily():
    """torch stays optional: no jaxar module but the reference model imports it when
    imported (the .pth/.pyth readers import it inside a function, with an error
    naming the extra), and nothing imports the reference model at module level."""
    assert TORCH_MODULE.is_file()
    for path in (ROOT / "jaxar").rglob("*.py"):
        if path == TORCH_MODULE:
            continue
        assert "torch" not in _module_level_imports(path), path
        assert "torch_x3d_ugt" not in "\n".join(
            l for l in path.read_text().splitlines() if l.startswith(("import ", "from "))), path
    import subprocess
    code = ("import sys, jaxar.weights, jaxar.weights.__main__, jaxar.train.loop, jaxar.predict; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]
