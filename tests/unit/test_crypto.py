import pytest

from pledges.crypto import DataCipher


def test_encryption_round_trips_and_hides_the_value():
    cipher = DataCipher("one-operator-secret-of-some-length")
    stored = cipher.encrypt("donor@example.org")
    assert "donor" not in stored
    assert cipher.decrypt(stored) == "donor@example.org"
    assert cipher.encrypt("donor@example.org") != stored  # no equal ciphertexts to compare


def test_blind_index_is_stable_and_keyed():
    one = DataCipher("one-operator-secret-of-some-length")
    other = DataCipher("another-operator-secret-entirely")
    assert one.blind_index("a@example.org") == one.blind_index("a@example.org")
    assert one.blind_index("a@example.org") != other.blind_index("a@example.org")


def test_wrong_key_is_a_clear_error():
    stored = DataCipher("one-operator-secret-of-some-length").encrypt("x")
    with pytest.raises(ValueError, match="PLEDGES_DATA_KEY"):
        DataCipher("another-operator-secret-entirely").decrypt(stored)
