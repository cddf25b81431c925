"""Detached ed25519 signatures of model files (``NAME.onnx.sig`` beside ``NAME.onnx``).

A signature is the 64 raw bytes of Ed25519 (RFC 8032) over the model file's exact bytes,
the same bytes ``openssl pkeyutl -sign -rawin`` writes, so a model can be checked without
edgeinfer::

    openssl pkeyutl -verify -pubin -inkey models/keys/edgeinfer-dev.pub -rawin \\
        -in models/fire_landsat.onnx -sigfile models/fire_landsat.onnx.sig

Ed25519 signatures are deterministic (RFC 8032 section 5.1.6: the nonce is a hash of the key
and the message), so re-signing an unchanged model rewrites the same ``.sig`` bytes.

Keys are PEM files: private keys PKCS#8, public keys SubjectPublicKeyInfo. The repository
ships a DEVELOPMENT key pair in ``models/keys/`` (``edgeinfer-dev.pem``, ``edgeinfer-dev.pub``);
its private half is committed on purpose so that every contributor and CI can re-sign the
models they rebuild. It protects against accidents (a truncated download, a bit flip, a
model edited by hand), not against an attacker: production missions generate their own pair
(:func:`generate_keypair`, ``edgeinfer models keygen``), configure only their public key as
trusted and keep the private key off the repository (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeinfer.errors import ModelError

logger = logging.getLogger(__name__)

SIG_SUFFIX = ".sig"
SIGNATURE_BYTES = 64  # RFC 8032: an Ed25519 signature is 64 octets
DEV_KEY_NAME = "edgeinfer-dev"
SIGN_HINT = (
    "re-sign it with `edgeinfer models sign PATH` or rebuild it with `edgeinfer models build`"
)

PathLike = str | os.PathLike[str]


def dev_key_dir() -> Path:
    """``models/keys`` at the repository root (where the development key pair lives)."""
    return Path(__file__).resolve().parents[2] / "models" / "keys"


def dev_private_key_path() -> Path:
    """The committed DEVELOPMENT private key (never use it to sign flight models)."""
    return dev_key_dir() / f"{DEV_KEY_NAME}.pem"


def dev_public_key_path() -> Path:
    """The DEVELOPMENT public key, trusted when no key is configured."""
    return dev_key_dir() / f"{DEV_KEY_NAME}.pub"


def signature_path(model_path: PathLike) -> Path:
    """Where the detached signature of ``model_path`` lives: the same name plus ``.sig``."""
    path = Path(model_path)
    return path.with_name(path.name + SIG_SUFFIX)


def fingerprint(key: Ed25519PublicKey) -> str:
    """Short identity of a public key: the first 16 hex digits of SHA-256 of its 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: PathLike) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS#8 PEM Ed25519 private key; :class:`ModelError` otherwise."""
    path = Path(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ModelError(
            f"signing key {path} not found; pass --key PRIVATE.pem or create a pair with "
            "`edgeinfer models keygen DIR`"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ModelError(
            f"signing key {path} is not an unencrypted PEM private key ({exc}); "
            "create one with `edgeinfer models keygen DIR`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ModelError(
            f"signing key {path} is a {type(key).__name__}, not Ed25519; "
            "create one with `edgeinfer models keygen DIR`"
        )
    return key


def load_public_key(path: PathLike) -> Ed25519PublicKey:
    """Read a PEM (SubjectPublicKeyInfo) Ed25519 public key; :class:`ModelError` otherwise."""
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(
            f"trusted public key {path} not found; pass --pubkey PUB with the mission's key"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ModelError(
            f"trusted public key {path} is not a PEM public key ({exc}); export it with "
            "`edgeinfer models keygen` or `openssl pkey -pubout`"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ModelError(f"trusted public key {path} is a {type(key).__name__}, not Ed25519")
    return key


def load_trusted_keys(paths: Sequence[PathLike] = ()) -> tuple[Ed25519PublicKey, ...]:
    """Public keys from ``paths``; with none given, the development key (logged at debug)."""
    if not paths:
        logger.debug("no trusted key configured; trusting the development key")
        return (load_public_key(dev_public_key_path()),)
    return tuple(load_public_key(p) for p in paths)


def generate_keypair(directory: PathLike, name: str = "mission") -> tuple[Path, Path]:
    """Write a new Ed25519 pair ``NAME.pem`` (private, mode 0600) and ``NAME.pub`` into
    ``directory``; refuses to overwrite. Returns (private path, public path)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / f"{name}.pem", folder / f"{name}.pub"
    for p in (private_path, public_path):
        if p.exists():
            raise ModelError(f"{p} already exists; choose another directory or --name")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def sign_bytes(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The 64-byte Ed25519 signature of ``data`` (deterministic)."""
    return key.sign(data)


def sign_model(model_path: PathLike, key: Ed25519PrivateKey) -> Path:
    """Sign the file at ``model_path``; writes ``model_path + .sig`` atomically (a temporary
    name, then rename) and returns its path."""
    path = Path(model_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {path} to sign it ({exc})") from exc
    target = signature_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(sign_bytes(data, key))
    os.replace(tmp, target)
    logger.debug("signed %s with key %s", path, fingerprint(key.public_key()))
    return target


def verify_bytes(
    data: bytes,
    signature: bytes,
    trusted_keys: Sequence[Ed25519PublicKey],
    label: str = "model",
) -> Ed25519PublicKey:
    """Check ``signature`` of ``data`` against each trusted key; returns the key that signed
    it, else raises :class:`ModelError` naming ``label`` and the problem."""
    if not trusted_keys:
        raise ModelError(f"{label}: no trusted public key is configured; configure one")
    if len(signature) != SIGNATURE_BYTES:
        raise ModelError(
            f"{label}: signature is {len(signature)} bytes, an Ed25519 signature has "
            f"{SIGNATURE_BYTES}; {SIGN_HINT}"
        )
    for key in trusted_keys:
        try:
            key.verify(signature, data)
        except InvalidSignature:
            continue
        return key
    keys = ", ".join(fingerprint(k) for k in trusted_keys)
    raise ModelError(
        f"{label}: bad signature (the file changed after signing, or it was signed by a key "
        f"other than the trusted {keys}); {SIGN_HINT}"
    )


def read_verified(model_path: PathLike, trusted_keys: Sequence[Ed25519PublicKey]) -> bytes:
    """The bytes of ``model_path`` once its detached signature verifies; :class:`ModelError`
    when the model or its signature is missing or the signature is bad. The caller should
    load these bytes (not the file again), so what runs is what was verified."""
    path = Path(model_path)
    sig_path = signature_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"model {path} cannot be read ({exc.strerror}); check the path") from exc
    try:
        signature = sig_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(
            f"model {path} has no signature ({sig_path.name} missing); sign it with "
            f"`edgeinfer models sign {path}`"
        ) from exc
    verify_bytes(data, signature, trusted_keys, label=f"model {path}")
    return data


def verify_model(model_path: PathLike, trusted_keys: Sequence[Ed25519PublicKey]) -> None:
    """Raise :class:`ModelError` unless ``model_path`` carries a valid signature by one of
    ``trusted_keys``."""
    read_verified(model_path, trusted_keys)
