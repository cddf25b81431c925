"""Signed models: detached Ed25519 signatures, the Detector's signature policy, the build
re-signing what it writes, and uplinked model updates (issue 6 item 6)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_detect_helpers import metadata, threshold_graph, write_model

from edgeinfer.detect import Detector, RuntimeOptions, load_model_info
from edgeinfer.detect.signing import (
    SIGNATURE_BYTES,
    dev_private_key_path,
    dev_public_key_path,
    generate_keypair,
    load_private_key,
    load_public_key,
    load_trusted_keys,
    read_verified,
    sign_model,
    signature_path,
    verify_model,
)
from edgeinfer.detect.uplink import ModelUpdate, accept_update, verify_update
from edgeinfer.errors import ConfigError, ModelError
from edgeinfer.models_build.registry import build_all

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture
def dev_keys() -> tuple[Ed25519PrivateKey, tuple[object, ...]]:
    return load_private_key(dev_private_key_path()), load_trusted_keys()


@pytest.fixture
def signed_model(tmp_path: Path, dev_keys: tuple[Ed25519PrivateKey, object]) -> Path:
    path = tmp_path / "thr_fire.onnx"
    write_model(path, threshold_graph(), metadata("thr_fire"))
    sign_model(path, dev_keys[0])
    return path


def test_every_committed_model_has_a_signature_by_the_committed_key() -> None:
    models = sorted(MODELS.glob("*.onnx"))
    assert models, "models/ holds no .onnx files"
    keys = (load_public_key(dev_public_key_path()),)
    for path in models:
        assert signature_path(path).stat().st_size == SIGNATURE_BYTES, path
        verify_model(path, keys)  # raises on a stale or missing signature


def test_openssl_verifies_our_signatures(tmp_path: Path, signed_model: Path) -> None:
    """A peer implementation (OpenSSL's Ed25519) accepts the .sig format, and rejects a
    tampered model."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cmd = [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(dev_public_key_path())]
    cmd += ["-rawin", "-in", str(signed_model), "-sigfile", str(signature_path(signed_model))]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if "rawin" in ok.stderr and ok.returncode != 0:
        pytest.skip(f"this openssl cannot verify raw Ed25519 input: {ok.stderr.strip()}")
    assert ok.returncode == 0, ok.stderr
    tampered = tmp_path / "tampered.onnx"
    data = bytearray(signed_model.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    cmd[cmd.index(str(signed_model))] = str(tampered)
    assert subprocess.run(cmd, capture_output=True, check=False).returncode != 0


def test_one_changed_byte_anywhere_is_refused(signed_model: Path, dev_keys: tuple) -> None:
    keys = dev_keys[1]
    verify_model(signed_model, keys)
    good = signed_model.read_bytes()
    for offset in (0, len(good) // 3, len(good) - 1):
        data = bytearray(good)
        data[offset] = (data[offset] + 1) % 256
        signed_model.write_bytes(bytes(data))
        with pytest.raises(ModelError, match=r"thr_fire\.onnx: bad signature"):
            verify_model(signed_model, keys)
    signed_model.write_bytes(good)
    assert read_verified(signed_model, keys) == good


def test_missing_and_malformed_signatures_are_refused(signed_model: Path, dev_keys: tuple) -> None:
    sig = signature_path(signed_model)
    sig.write_bytes(sig.read_bytes()[:-1])
    with pytest.raises(ModelError, match="signature is 63 bytes"):
        verify_model(signed_model, dev_keys[1])
    sig.unlink()
    with pytest.raises(ModelError, match=r"has no signature \(thr_fire\.onnx\.sig missing\)"):
        verify_model(signed_model, dev_keys[1])


def test_signatures_are_deterministic_and_key_specific(tmp_path: Path, signed_model: Path) -> None:
    first = signature_path(signed_model).read_bytes()
    dev = load_private_key(dev_private_key_path())
    sign_model(signed_model, dev)
    assert signature_path(signed_model).read_bytes() == first  # RFC 8032: deterministic
    private_path, public_path = generate_keypair(tmp_path / "keys", "mission")
    assert private_path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ModelError, match="already exists"):
        generate_keypair(tmp_path / "keys", "mission")
    mission = (load_public_key(public_path),)
    with pytest.raises(ModelError, match="bad signature"):
        verify_model(signed_model, mission)  # dev-signed, mission key trusted
    sign_model(signed_model, load_private_key(private_path))
    verify_model(signed_model, mission)
    verify_model(signed_model, (*load_trusted_keys(), *mission))  # any trusted key will do
    with pytest.raises(ModelError, match="bad signature"):
        verify_model(signed_model, load_trusted_keys())


def test_bad_key_files_name_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a key\n")
    with pytest.raises(ModelError, match=r"bogus\.pem is not an unencrypted PEM private key"):
        load_private_key(bogus)
    with pytest.raises(ModelError, match=r"bogus\.pem is not a PEM public key"):
        load_public_key(bogus)
    with pytest.raises(ModelError, match=r"nope\.pub not found"):
        load_trusted_keys([tmp_path / "nope.pub"])


def test_detector_requires_a_valid_signature(signed_model: Path) -> None:
    info = load_model_info(signed_model)
    strict = RuntimeOptions(provider="cpu", require_signature=True)
    assert Detector(info, strict).session is not None
    data = bytearray(signed_model.read_bytes())
    data[data.index(b"threshold on one band")] ^= 0x20  # 't' -> 'T': still a valid model
    signed_model.write_bytes(bytes(data))
    Detector(load_model_info(signed_model), RuntimeOptions(provider="cpu"))
    with pytest.raises(ModelError, match="bad signature"):
        Detector(load_model_info(signed_model), strict)
    signature_path(signed_model).unlink()
    with pytest.raises(ModelError, match="has no signature"):
        Detector(load_model_info(signed_model), strict)


def test_detector_trusts_only_the_configured_keys(tmp_path: Path, signed_model: Path) -> None:
    _, public = generate_keypair(tmp_path / "keys")
    info = load_model_info(signed_model)
    options = RuntimeOptions(provider="cpu", require_signature=True, trusted_keys=(str(public),))
    with pytest.raises(ModelError, match="bad signature"):
        Detector(info, options)
    with pytest.raises(ConfigError, match="trusted_keys"):
        RuntimeOptions(trusted_keys="one.pub")  # type: ignore[arg-type]


def test_build_signs_reproducibly(tmp_path: Path) -> None:
    """Building twice writes identical .onnx and .sig bytes; every .sig verifies; a model
    identical to the committed one gets the committed signature."""
    names = ["fire_sentinel2", "cloud_vnir"]
    a = build_all(tmp_path / "a", names)
    b = build_all(tmp_path / "b", names)
    keys = load_trusted_keys()
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
        assert signature_path(pa).read_bytes() == signature_path(pb).read_bytes()
        verify_model(pa, keys)
        committed = MODELS / pa.name
        if committed.read_bytes() == pa.read_bytes():
            assert signature_path(committed).read_bytes() == signature_path(pa).read_bytes()
    unsigned = build_all(tmp_path / "c", names[:1], sign=False)
    assert not signature_path(unsigned[0]).exists()


def test_accept_update_keeps_the_previous_model_when_invalid(
    tmp_path: Path, signed_model: Path, dev_keys: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    keys = dev_keys[1]
    install = tmp_path / "onboard"
    good = ModelUpdate.from_files(signed_model)
    assert verify_update(good, keys).name == "thr_fire"
    assert accept_update(good, keys, install_dir=install)
    installed = install / "thr_fire.onnx"
    assert installed.read_bytes() == good.onnx_bytes
    verify_model(installed, keys)  # a restarted satellite re-checks what it installed
    before = installed.read_bytes()

    flipped = bytearray(good.onnx_bytes)
    flipped[100] ^= 0x04
    bad = [
        (ModelUpdate("thr_fire", bytes(flipped), good.signature), "bad signature"),
        (ModelUpdate("thr_fire", good.onnx_bytes, b""), "carries no signature"),
        (ModelUpdate("other", good.onnx_bytes, good.signature), "uplink it under its own name"),
    ]
    garbage = b"not an onnx model"
    bad.append((ModelUpdate("thr_fire", garbage, dev_keys[0].sign(garbage)), "not a readable ONNX"))
    for update, reason in bad:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="edgeinfer.detect.uplink"):
            assert not accept_update(update, keys, install_dir=install)
        assert reason in caplog.text and "keeping the previous model" in caplog.text
        assert installed.read_bytes() == before
