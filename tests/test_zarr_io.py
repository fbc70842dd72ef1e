import numpy as np
import pytest
import xarray as xr

from pipeline_lib.provenance import make_provenance
from pipeline_lib.zarr_io import StoreError, open_store, var, write_store


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
