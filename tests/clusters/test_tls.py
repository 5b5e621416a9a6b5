"""The batch's temporary certificate: a fresh EC key per batch, one certificate every role presents and trusts."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from dask_runner.dask.clusters.tls import temporary_security


def test_each_batch_gets_its_own_ec_certificate_which_every_role_presents_and_trusts() -> None:
    first, second = temporary_security(), temporary_security()
    roles = [first.get_tls_config_for_role(role) for role in ("scheduler", "worker", "client")]
    assert first.require_encryption
    assert all(role == roles[0] for role in roles) and roles[0]["ca_file"] == roles[0]["cert"]
    key = load_pem_private_key(roles[0]["key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    certificate = x509.load_pem_x509_certificate(roles[0]["cert"].encode())
    assert certificate.public_key() == key.public_key()
    assert second.get_tls_config_for_role("scheduler")["cert"] != roles[0]["cert"]
