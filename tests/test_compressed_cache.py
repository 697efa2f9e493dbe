"""The memoised extraction (data_pipelines/compressed/extract_cache.py) and the
``data.compressed_cache`` option: batches identical to uncached ones, the decoder
runs once per clip, cached arrays are read-only."""
import ml_collections
import numpy as np
import pytest

pytest.importorskip("av")

from data_pipelines import synthetic  # noqa: E402
from data_pipelines.clip_config import ClipConfig  # noqa: E402
from data_pipelines.compressed.encode import compressed_synthetic  # noqa: E402
from data_pipelines.compressed.extract_cache import ExtractCache  # noqa: E402
from data_pipelines.compressed.pipeline import compressed_numpy_batches  # noqa: E402
from jaxar.runtime.compressed_clip import CompressedInput  # noqa: E402

N, T, S = 6, 8, 32


@pytest.fixture(scope="module")
def streams():
    return compressed_synthetic(N, frames=T, size=S, seed=synthetic.TEST_SEED, num_classes=4)


def _epochs(streams, extract, steps):
    s, labels = streams
    # random aspect crops and flips on: the cache must not freeze the augmentation
    clip = ClipConfig(num_frames=T, size=24, area_range=(0.5, 1.0), flip=True)
    gen = compressed_numpy_batches(s, labels, 3, num_frames=[T] * N, train=True, clip=clip,
                                   compressed=CompressedInput(frames=T, size=24), seed=5,
                                   prefetch=0, extract=extract)
    return [next(gen) for _ in range(steps)]


def test_cached_batches_equal_uncached_and_decode_once(streams):
    steps = 3 * (N // 3)                     # three epochs
    cache = ExtractCache()
    plain = _epochs(streams, None, steps)
    cached = _epochs(streams, cache, steps)
    for a, b in zip(plain, cached):
        assert sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert cache.misses == N and cache.hits == 2 * N and len(cache) == N
    # the augmentation still varies between epochs (same example, different crop / flip)
    assert any(not np.array_equal(plain[0]["mv"], plain[j]["mv"]) for j in (2, 4))


def test_cache_entries_are_read_only_and_bounded(streams):
    s, _ = streams
    cache = ExtractCache(max_entries=2)
    clip = cache(s[0], [0, 3, 5])
    with pytest.raises(ValueError):
        clip.mv[0, 0, 0, 0] = 1.0
    assert cache(s[0], [0, 3, 5]) is clip and cache.hits == 1
    assert cache(s[0], [0, 3, 6]) is not clip          # other indices: another entry
    cache(s[1], [0, 3, 5])
    assert len(cache) == 2 and cache.misses == 3
    with pytest.raises(ValueError, match="max_entries"):
        ExtractCache(max_entries=0)


def test_compressed_synthetic_source_option():
    from jaxar.train.data import build_source
    from jaxar.train.config import default_config, model_config
    cfg = default_config("cdkd_mobilenetv2", num_classes=4, frames=T, size=S, tiny_streams=True)
    spec = ml_collections.ConfigDict(cfg.data.to_dict())
    spec.source = "compressed_synthetic"
    spec.synthetic_train, spec.synthetic_test = 4, 2
    spec.synthetic_frames, spec.synthetic_size = T, S
    out = {}
    for cached in (False, True):
        spec.compressed_cache = cached
        src = build_source(spec, model_config(cfg), 2, 0, 1)
        it = src.train_batches(0, 0)
        out[cached] = [next(it) for _ in range(4)] + list(src.eval_batches())
    for a, b in zip(out[False], out[True]):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
