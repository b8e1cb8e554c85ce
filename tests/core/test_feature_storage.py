"""Feature storage (features format 2): float16 files read back as float32, format 1 untouched."""

import json
from pathlib import Path

import numpy as np
import pytest

from bench.bank import (FEATURES_FORMAT_V2, FILE_MANIFEST_KEYS, load_bank, recast_features, save_bank,
                        write_features)
from bench.cli import main
from bench.errors import BankFormatError, UnknownNameError
from bench.fileio import sha256_file
from tests.core.fixtures import fixture_bank

N = 12


@pytest.fixture()
def bank_dir(tmp_path: Path) -> Path:
    return fixture_bank(tmp_path / "bank", n_queries=N, n_samples=4)


def hidden_like(dim: int = 16, seed: int = 0) -> np.ndarray:
    """Fixture values spread over magnitudes like a hidden state's (1e-3 .. 1e2, both signs)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, dim)) * 10.0 ** rng.uniform(-3, 2, size=(N, dim))


def manifest_of(bank_dir: Path) -> dict:
    return json.loads((bank_dir / "manifest.json").read_text())


def test_float32_features_keep_format_1_byte_for_byte(bank_dir):
    """A float32 feature on a format-1 bank writes no storage fields: old banks stay as they were."""
    write_features(bank_dir, "emb", hidden_like(), {"extractor": "test"})
    manifest = manifest_of(bank_dir)
    assert "features_format" not in manifest and "storage" not in manifest["features"]["emb"]
    assert np.load(bank_dir / "features" / "emb.npy").dtype == np.float32
    assert load_bank(bank_dir).feature_storage("emb") == "float32"


def test_float16_storage_halves_the_file_and_reads_back_as_float32(bank_dir):
    values = hidden_like(dim=64)
    write_features(bank_dir, "emb32", values, {"extractor": "test"})
    write_features(bank_dir, "emb16", values, {"extractor": "test"}, storage="float16")
    on_disk = np.load(bank_dir / "features" / "emb16.npy")
    assert on_disk.dtype == np.float16
    payload32 = (bank_dir / "features" / "emb32.npy").stat().st_size - 128   # minus the npy header
    assert (bank_dir / "features" / "emb16.npy").stat().st_size - 128 == payload32 // 2
    bank = load_bank(bank_dir)
    read = bank.features("emb16")
    assert read.dtype == np.float32 and read.shape == values.shape
    np.testing.assert_array_equal(read, on_disk.astype(np.float32))
    # float16's normal range has an 11-bit significand: rounding is within 2**-11 relative
    np.testing.assert_array_less(np.abs(read - values), np.abs(values) * 2.0 ** -11 + 1e-12)
    manifest = manifest_of(bank_dir)
    assert manifest["features_format"] == FEATURES_FORMAT_V2
    assert manifest["features"]["emb16"]["storage"] == "float16"
    assert manifest["features"]["emb32"]["storage"] == "float32"   # moved to format 2 with the bank
    assert bank.feature_storage("emb32") == "float32" and bank.feature_storage("emb16") == "float16"


def test_float16_refuses_values_it_cannot_hold(bank_dir):
    values = hidden_like()
    values[3, 2] = 1e5
    with pytest.raises(BankFormatError, match="beyond float16's range"):
        write_features(bank_dir, "emb", values, {}, storage="float16")
    with pytest.raises(BankFormatError, match="storage 'int8'"):
        write_features(bank_dir, "emb", hidden_like(), {}, storage="int8")
    assert "emb" not in manifest_of(bank_dir).get("features", {})


def test_recast_keeps_the_producer_and_rounds_the_stored_values(bank_dir):
    values = hidden_like()
    write_features(bank_dir, "emb", values, {"extractor": "test", "model": {"id": "m"}})
    old_sha = manifest_of(bank_dir)["files"]["features/emb.npy"]
    recast_features(bank_dir, "emb", "float16")
    manifest = manifest_of(bank_dir)
    assert manifest["features"]["emb"] == {"extractor": "test", "model": {"id": "m"}, "dim": 16,
                                           "storage": "float16"}
    assert manifest["files"]["features/emb.npy"] != old_sha
    np.testing.assert_array_equal(load_bank(bank_dir).features("emb"),
                                  values.astype(np.float16).astype(np.float32))
    recast_features(bank_dir, "emb", "float32")   # back: float32 again, the float16 values exactly
    assert np.load(bank_dir / "features" / "emb.npy").dtype == np.float32
    np.testing.assert_array_equal(load_bank(bank_dir).features("emb"),
                                  values.astype(np.float16).astype(np.float32))
    with pytest.raises(UnknownNameError, match="no features 'nope'"):
        recast_features(bank_dir, "nope", "float16")


def test_rebuilding_keeps_float16_features_and_their_format(bank_dir):
    write_features(bank_dir, "emb", hidden_like(), {"extractor": "test"}, storage="float16")
    bank = load_bank(bank_dir)
    manifest = {k: v for k, v in bank.manifest.items() if k not in FILE_MANIFEST_KEYS}
    save_bank(bank_dir, manifest, bank.queries, bank.rewards.assign(reward=0.0))
    again = load_bank(bank_dir)
    assert again.manifest["features_format"] == FEATURES_FORMAT_V2
    assert again.feature_storage("emb") == "float16"
    np.testing.assert_array_equal(again.features("emb"), bank.features("emb"))


def tamper(bank_dir: Path, manifest_update: dict | None = None, entry_update: dict | None = None,
           array: np.ndarray | None = None) -> None:
    """Change a bank's manifest or feature file behind write_features' back (checksums kept valid)."""
    manifest = manifest_of(bank_dir)
    if array is not None:
        np.save(bank_dir / "features" / "emb.npy", array)
        manifest["files"]["features/emb.npy"] = sha256_file(bank_dir / "features" / "emb.npy")
    manifest.update(manifest_update or {})
    manifest["features"]["emb"].update(entry_update or {})
    (bank_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("case, storage, change, message", [
    ("unknown format", "float32", dict(manifest_update={"features_format": "hardbench-features/9"}),
     "unsupported features_format 'hardbench-features/9'"),
    ("format 1 with a float16 file", "float32", dict(array=np.ones((N, 3), dtype=np.float16)),
     "stored as float16, but the manifest declares float32"),
    ("format 2 without storage", "float16", dict(entry_update={"storage": None}), "has no storage"),
    ("format 2, storage not the file's dtype", "float16", dict(entry_update={"storage": "float32"}),
     "stored as float16, but the manifest declares float32"),
])
def test_bad_feature_storage_is_one_clear_error(bank_dir, case, storage, change, message):
    write_features(bank_dir, "emb", np.ones((N, 3)), {}, storage=storage)
    tamper(bank_dir, **change)
    with pytest.raises(BankFormatError, match=message.replace("(", r"\(")):
        load_bank(bank_dir)


def test_bench_features_recast_command(bank_dir, capsys):
    write_features(bank_dir, "emb", hidden_like(dim=256), {"extractor": "test"})
    assert main(["features", "--bank", str(bank_dir), "--recast", "emb", "--storage", "float16"]) == 0
    out = capsys.readouterr().out
    assert "emb: float16 ->" in out and "MiB on disk" in out
    assert load_bank(bank_dir).feature_storage("emb") == "float16"


def test_a_feature_entry_that_is_not_an_object_is_one_clear_error(bank_dir):
    write_features(bank_dir, "emb", np.ones((N, 3)), {}, storage="float16")
    manifest = manifest_of(bank_dir)
    manifest["features"]["emb"] = "oops"
    (bank_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BankFormatError, match="feature 'emb' must be an object"):
        load_bank(bank_dir)


def test_a_stale_format_key_from_the_caller_does_not_break_a_format_1_rebuild(bank_dir):
    """The kept files decide the features format, not a features_format the caller left in."""
    write_features(bank_dir, "emb", np.ones((N, 3)), {"extractor": "test"})   # format 1
    bank = load_bank(bank_dir)
    manifest = {k: v for k, v in bank.manifest.items() if k not in ("files", "features")}
    manifest["features_format"] = FEATURES_FORMAT_V2
    save_bank(bank_dir, manifest, bank.queries, bank.rewards)
    again = load_bank(bank_dir)
    assert "features_format" not in again.manifest and again.feature_storage("emb") == "float32"


def test_float32_overflow_names_no_float32_advice(bank_dir):
    values = np.ones((N, 3))
    values[0, 0] = 1e300
    with pytest.raises(BankFormatError, match="beyond float32's range") as err:
        write_features(bank_dir, "emb", values, {})
    assert "store them as float32" not in str(err.value)


def test_recast_needs_storage_checks_every_name_first_and_keeps_storage_on_overwrite(bank_dir, capsys):
    write_features(bank_dir, "emb", hidden_like(), {"extractor": "test"})
    assert main(["features", "--bank", str(bank_dir), "--recast", "emb"]) == 2
    assert "--recast needs --storage" in capsys.readouterr().err
    before = (bank_dir / "manifest.json").read_bytes()
    assert main(["features", "--bank", str(bank_dir), "--recast", "emb", "nope", "--storage", "float16"]) == 2
    assert "no features ['nope']" in capsys.readouterr().err
    assert (bank_dir / "manifest.json").read_bytes() == before      # nothing rewritten
    assert main(["features", "--bank", str(bank_dir), "--recast", "emb", "--storage", "float32"]) == 0
    assert "already float32, left as it is" in capsys.readouterr().out
    assert (bank_dir / "manifest.json").read_bytes() == before
