import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from pipeline_lib.provenance import make_provenance
from pipeline_lib.zarr_io import (
    ALL_CHUNKS_ATTR,
    StoreError,
    open_store,
    var,
    write_store,
    write_store_stream,
)


def _ds():
    return xr.Dataset(
        {"x": var(np.arange(12.0).reshape(4, 3), ("sample", "feature"), "a value", units="m")},
        coords={"sample": np.arange(4), "feature": ["a", "b", "c"]},
    )


def test_round_trip_with_attrs(tmp_path):
    p = write_store(_ds(), tmp_path / "s.zarr", "a test store", make_provenance({"k": {"a": 1}}))
    ds = xr.open_zarr(p)
    assert ds.x.dims == ("sample", "feature")
    assert list(ds.feature.values) == ["a", "b", "c"]
    assert ds.attrs["description"] == "a test store"
    prov = ds.attrs["provenance"]
    assert prov["config"] == {"k": {"a": 1}}
    assert "torch" in prov["packages"] and "xarray" in prov["packages"]
    assert ds.x.attrs["units"] == "m" and ds.x.attrs["description"] == "a value"
    np.testing.assert_array_equal(open_store(p).x.values, _ds().x.values)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", boom)
    with pytest.raises(OSError):
        write_store(_ds(), tmp_path / "s.zarr", "d", {})
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces(tmp_path):
    write_store(_ds(), tmp_path / "s.zarr", "first", {})
    write_store(_ds() * 2, tmp_path / "s.zarr", "second", {})
    ds = open_store(tmp_path / "s.zarr")
    assert ds.attrs["description"] == "second"
    assert ds.x.values[1, 0] == 6.0
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_variables_need_description(tmp_path):
    ds = xr.Dataset({"x": (("a",), np.zeros(2))})
    with pytest.raises(StoreError, match="description"):
        write_store(ds, tmp_path / "s.zarr", "d", {})


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_open_store_errors(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "missing.zarr")
    xr.Dataset({"x": (("a",), np.zeros(2))}).to_zarr(tmp_path / "foreign.zarr")
    with pytest.raises(StoreError, match="lacks attrs"):
        open_store(tmp_path / "foreign.zarr")
    p = write_store(_ds(), tmp_path / "s.zarr", "d", {})
    chunks = [f for f in (p / "x").rglob("*") if f.is_file() and f.name != "zarr.json"]
    assert chunks
    for f in chunks:
        f.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="unreadable"):
        open_store(p)


# ------------------------------------------------------------------ streamed stores


def _piece(start: int, n: int) -> xr.Dataset:
    rng = np.random.default_rng(start)
    s = np.arange(start, start + n)
    return xr.Dataset(
        {
            "x": var(rng.standard_normal((n, 3)).astype(np.float32), ("sample", "feature"), "x"),
            "tag": var(np.array([f"t{i}" for i in s]), ("sample",), "a unicode tag"),
            "w": var(np.arange(3.0), ("feature",), "a per-feature weight", units="kg"),
        },
        coords={
            "sample": s,
            "feature": ["a", "b", "c"],
            "name": ("sample", np.array([f"n{i}" for i in s])),
        },
        attrs={"k": 3, "shape": (1, 3)},
    )


def _pieces(lengths):
    start = 0
    for n in lengths:
        yield _piece(start, n)
        start += n


def test_stream_round_trip_bitwise(tmp_path):
    lengths = [4, 4, 4, 2]  # the last piece shorter
    p = write_store_stream(
        _pieces(lengths), tmp_path / "s.zarr", "streamed", {"k": 1}, append_dim="sample"
    )
    want = xr.concat(list(_pieces(lengths)), "sample", data_vars="minimal", coords="minimal")
    for ds in (open_store(p), xr.open_zarr(p).load()):
        assert ds.attrs["description"] == "streamed" and ds.attrs["provenance"] == {"k": 1}
        assert ds.attrs["k"] == 3 and ds.attrs["shape"] == [1, 3]
        assert ds.attrs[ALL_CHUNKS_ATTR] is True
        assert set(ds.variables) == set(want.variables)
        for name, v in want.variables.items():
            got = ds[name]
            assert got.dims == v.dims, name
            if v.dtype.kind == "U":
                assert list(got.values) == list(v.values), name
            else:
                assert got.dtype == v.dtype, name
                assert got.values.tobytes() == v.values.tobytes(), name
            assert got.attrs.get("description") == v.attrs.get("description"), name
        assert ds.w.attrs["units"] == "kg"
    chunks = dict(zarr.open_group(p, mode="r").arrays())
    assert chunks["x"].chunks == (4, 3) and chunks["x"].shape == (14, 3)
    assert chunks["tag"].chunks == (4,) and chunks["w"].shape == (3,)
    assert [q.name for q in tmp_path.iterdir()] == ["s.zarr"]


def test_stream_unequal_pieces(tmp_path):
    lengths = [5, 3, 7, 1]
    p = write_store_stream(_pieces(lengths), tmp_path / "s.zarr", "d", {}, append_dim="sample")
    want = xr.concat(list(_pieces(lengths)), "sample", data_vars="minimal", coords="minimal")
    got = open_store(p)
    assert got.x.values.tobytes() == want.x.values.tobytes()
    np.testing.assert_array_equal(got.sample.values, np.arange(16))


def test_stream_failure_leaves_old_store(tmp_path):
    target = tmp_path / "s.zarr"
    write_store(_ds(), target, "older", {})

    def snapshot():
        return {f.relative_to(target): f.read_bytes() for f in target.rglob("*") if f.is_file()}

    before = snapshot()

    def failing():
        yield _piece(0, 4)
        yield _piece(4, 4)
        raise RuntimeError("out of memory in piece 3")

    with pytest.raises(RuntimeError, match="piece 3"):
        write_store_stream(failing(), target, "newer", {}, append_dim="sample")
    assert [q.name for q in tmp_path.iterdir()] == ["s.zarr"]
    assert snapshot() == before
    assert open_store(target).attrs["description"] == "older"
    # and with no older store, nothing at all is left
    with pytest.raises(RuntimeError, match="piece 3"):
        write_store_stream(failing(), tmp_path / "new.zarr", "d", {}, append_dim="sample")
    assert [q.name for q in tmp_path.iterdir()] == ["s.zarr"]


def test_stream_replaces_and_cleans_leftovers(tmp_path):
    target = tmp_path / "s.zarr"
    write_store(_ds(), target, "older", {})
    (tmp_path / "s.zarr.tmp-0123abcd").mkdir()  # a killed write's leftover
    write_store_stream(_pieces([2, 2]), target, "newer", {}, append_dim="sample")
    assert [q.name for q in tmp_path.iterdir()] == ["s.zarr"]
    ds = open_store(target)
    assert ds.attrs["description"] == "newer" and ds.sizes["sample"] == 4


def test_stream_provenance_called_once_after_last_piece(tmp_path):
    events = []

    def parts():
        for i in range(3):
            events.append(f"piece {i}")
            yield _piece(2 * i, 2)

    def prov():
        events.append("provenance")
        return {"wall_time_s": 1.5}

    p = write_store_stream(parts(), tmp_path / "s.zarr", "d", prov, append_dim="sample")
    assert events == ["piece 0", "piece 1", "piece 2", "provenance"]
    assert open_store(p).attrs["provenance"] == {"wall_time_s": 1.5}


def test_stream_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no pieces"):
        write_store_stream(iter([]), tmp_path / "s.zarr", "d", {}, append_dim="sample")
    bad = xr.Dataset({"x": (("sample",), np.zeros(2))}, coords={"sample": [0, 1]})
    with pytest.raises(StoreError, match="description"):
        write_store_stream([bad], tmp_path / "s.zarr", "d", {}, append_dim="sample")
    later = _piece(2, 2).drop_vars("tag")
    with pytest.raises(ValueError, match="variables"):
        write_store_stream([_piece(0, 2), later], tmp_path / "s.zarr", "d", {}, append_dim="sample")
    assert list(tmp_path.iterdir()) == []


STREAM_MEMORY = """
import re, sys
import numpy as np, xarray as xr
from pipeline_lib.zarr_io import var, write_store_stream

n, rows, f = 40, 1024, 6400  # 40 pieces of 1024 x 6400 float32 = 25 MiB: 1 GiB in all

def parts():
    for i in range(n):
        x = np.random.default_rng(i).standard_normal((rows, f), dtype=np.float32)
        s = np.arange(i * rows, (i + 1) * rows)
        yield xr.Dataset(
            {"x": var(x, ("sample", "feature"), "x")}, coords={"sample": s}
        )

write_store_stream(parts(), sys.argv[1], "memory test", {}, append_dim="sample")
# the peak RSS of this process (MiB): VmHWM, not getrusage's ru_maxrss, which Linux
# carries over from the parent through fork/vfork + exec (the pytest process holds
# hundreds of MiB once torch is imported)
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_stream_memory_stays_below_total(tmp_path):
    """Streaming 1 GiB in 25 MiB pieces keeps the peak RSS of the writing process far
    below the total size (about 170 MiB, of which about 90 MiB are the imports)."""
    p = tmp_path / "big.zarr"
    res = subprocess.run(
        [sys.executable, "-c", STREAM_MEMORY, str(p)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    peak_mb = int(res.stdout.split()[-1])
    assert peak_mb < 400, f"peak RSS {peak_mb} MiB streaming 1 GiB in 25 MiB pieces"
    ds = open_store(p, load=False)
    assert ds.sizes == {"sample": 40 * 1024, "feature": 6400}
    np.testing.assert_array_equal(
        ds.x[-1024:].values,
        np.random.default_rng(39).standard_normal((1024, 6400), dtype=np.float32),
    )


def test_open_results_is_one_lazy_tree_of_every_store(tmp_path):
    import pipeline_lib

    res = tmp_path / "results"
    prov = make_provenance({"seed": 0})
    for rel, n in (("dmm/mnist/clean/seed0/attacks", 3), ("dmm/mnist/tangents", 4)):
        ds = xr.Dataset({"a": ("sample", np.arange(n, dtype=np.float32), {"description": "a"})})
        write_store(ds, res / f"{rel}.zarr", "a store", prov)
    write_store(
        xr.Dataset({"x": ("k", np.ones(2), {"description": "x"})}),
        res / "squiggles/sinenet/sigma0.08/seed0/pixel.zarr",
        "dots in a folder name",
        prov,
    )
    (res / "bench").mkdir()  # folders without stores are no nodes
    tree = pipeline_lib.open_results(res)
    leaves = sorted(node.path for node in tree.subtree if node.has_data)
    assert leaves == [
        "/dmm/mnist/clean/seed0/attacks",
        "/dmm/mnist/tangents",
        "/squiggles/sinenet/sigma0.08/seed0/pixel",
    ]
    attacks = tree["dmm/mnist/clean/seed0/attacks"].to_dataset()
    assert not attacks["a"].variable._in_memory  # lazily opened: read on access
    np.testing.assert_array_equal(attacks["a"].values, np.arange(3, dtype=np.float32))
    assert attacks.attrs["description"] == "a store"
    with pytest.raises(StoreError, match="no Zarr stores"):
        pipeline_lib.open_results(res / "bench")
    with pytest.raises(StoreError, match="not a results folder"):
        pipeline_lib.open_results(tmp_path / "nothing")
