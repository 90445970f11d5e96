"""Credentials in isolation: the password policy and hashing, JWTs, TOTP and recovery codes."""

from __future__ import annotations

import uuid

import jwt
import pyotp
import pytest

from vms.auth import mfa
from vms.auth.passwords import Passwords
from vms.auth.permissions import Role
from vms.auth.tokens import AccessClaims, TokenSigner
from vms.kernel.errors import Unauthenticated, ValidationFailed

SECRET = "s" * 40


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    """Cheap Argon2 parameters: the policy and the hash format are what is tested here."""
    return Passwords(min_length=12, time_cost=1, memory_kib=1024)


# --- password policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "email", "rule"),
    [
        ("Ab1!short", None, "at least 12 characters"),
        ("alllowercase1", None, "at least three of"),  # two classes, under 20 characters
        ("ALLUPPER-ONLY", None, "at least three of"),
        ("Password1234", None, "commonly breached"),  # three classes, but on the breached list
        ("Administrator", None, "at least three of"),
        ("Xjohnsmith-2024!", "johnsmith@example.com", "email name"),
        ("Xx-JohnSmith-2024", "JohnSmith@example.com", "email name"),
        ("A1!" + "x" * 254, None, "at most 256"),
    ],
    ids=[
        "too-short",
        "two-classes",
        "upper-and-symbol",
        "common",
        "capitalised-word",
        "email",
        "email-case",
        "too-long",
    ],
)
def test_policy_refuses_weak_passwords_naming_the_rule(passwords, password, email, rule):
    with pytest.raises(ValidationFailed, match=rule):
        passwords.check_policy(password, email=email)


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("Correct-Horse-9", None),  # three classes, 15 characters
        ("correcthorsebatterystaple", None),  # passphrase of 20+ characters, one class
        ("correct horse battery", None),  # exactly 21 characters
        ("Bob-is-secure-12", "bob@example.com"),  # email names under 4 characters are not checked
    ],
)
def test_policy_accepts_strong_passwords_and_passphrases(passwords, password, email):
    passwords.check_policy(password, email=email)


def test_passphrase_of_19_characters_is_still_held_to_the_class_rule(passwords):
    with pytest.raises(ValidationFailed):
        passwords.check_policy("correcthorsebattery")  # 19 characters, one class


def test_hash_verifies_the_right_password_only(passwords):
    stored = passwords.hash("Correct-Horse-9")
    assert stored.startswith("$argon2id$")
    assert "Correct-Horse-9" not in stored
    assert passwords.verify(stored, "Correct-Horse-9") is True
    assert passwords.verify(stored, "Correct-Horse-8") is False
    assert passwords.verify(stored, "") is False


def test_same_password_hashes_differently_each_time(passwords):
    assert passwords.hash("Correct-Horse-9") != passwords.hash("Correct-Horse-9")


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$broken"])
def test_garbage_hash_never_verifies(passwords, garbage):
    assert passwords.verify(garbage, "Correct-Horse-9") is False


def test_dummy_hash_is_a_real_hash_no_password_matches(passwords):
    assert passwords.dummy_hash.startswith("$argon2id$")
    assert passwords.verify(passwords.dummy_hash, "Correct-Horse-9") is False


# --- tokens ---------------------------------------------------------------------------------------


def _claims() -> AccessClaims:
    return AccessClaims(
        user_id=uuid.uuid4(),
        email="viewer@example.com",
        role=Role.VIEWER,
        tenant_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
    )


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(secret=SECRET, access_ttl_s=900, challenge_ttl_s=300)


def test_access_token_round_trips(signer):
    claims = _claims()
    assert signer.verify_access(signer.issue_access(claims)) == claims


def test_provider_staff_token_round_trips_without_tenant(signer):
    claims = AccessClaims(uuid.uuid4(), "staff@example.com", Role.PROVIDER_ADMIN, None, uuid.uuid4())
    assert signer.verify_access(signer.issue_access(claims)) == claims


def test_challenge_token_round_trips(signer):
    user_id = uuid.uuid4()
    assert signer.verify_challenge(signer.issue_challenge(user_id)) == user_id


def test_expired_tokens_are_refused():
    expired = TokenSigner(secret=SECRET, access_ttl_s=-1, challenge_ttl_s=-1)
    with pytest.raises(Unauthenticated, match="expired"):
        expired.verify_access(expired.issue_access(_claims()))
    with pytest.raises(Unauthenticated, match="expired"):
        expired.verify_challenge(expired.issue_challenge(uuid.uuid4()))


def test_token_signed_with_another_key_is_refused(signer):
    other = TokenSigner(secret="o" * 40, access_ttl_s=900, challenge_ttl_s=300)
    with pytest.raises(Unauthenticated):
        signer.verify_access(other.issue_access(_claims()))
    with pytest.raises(Unauthenticated):
        signer.verify_challenge(other.issue_challenge(uuid.uuid4()))


def test_challenge_token_is_not_an_access_token(signer):
    with pytest.raises(Unauthenticated):
        signer.verify_access(signer.issue_challenge(uuid.uuid4()))


def test_access_token_is_not_a_challenge_token(signer):
    with pytest.raises(Unauthenticated):
        signer.verify_challenge(signer.issue_access(_claims()))


def test_unsigned_alg_none_token_is_refused(signer):
    genuine = jwt.decode(signer.issue_access(_claims()), options={"verify_signature": False})
    forged = jwt.encode({**genuine, "role": Role.PROVIDER_ADMIN.value}, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        signer.verify_access(forged)


def test_tampered_payload_is_refused(signer):
    header, _, signature = signer.issue_access(_claims()).split(".")
    genuine = jwt.decode(signer.issue_access(_claims()), options={"verify_signature": False})
    other_payload = jwt.encode({**genuine, "role": "provider_admin"}, "x" * 40).split(".")[1]
    with pytest.raises(Unauthenticated):
        signer.verify_access(f"{header}.{other_payload}.{signature}")


def test_token_of_another_issuer_or_without_expiry_is_refused(signer):
    base = {"typ": "access", "sub": str(uuid.uuid4()), "iat": 1_700_000_000}
    foreign = jwt.encode({**base, "iss": "someone-else", "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    endless = jwt.encode({**base, "iss": "vms"}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        signer.verify_access(foreign)
    with pytest.raises(Unauthenticated):
        signer.verify_access(endless)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c"])
def test_garbage_token_is_refused(signer, garbage):
    with pytest.raises(Unauthenticated):
        signer.verify_access(garbage)


# --- TOTP -----------------------------------------------------------------------------------------

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_800_000_015.0  # 15 s into a 30-second step
STEP = int(NOW // 30)


def _code(step: int) -> str:
    return pyotp.TOTP(TOTP_SECRET).generate_otp(step)


def test_totp_codes_of_nearby_steps_differ():
    # Guards the tests below: with this secret no two steps in range share a code.
    codes = [_code(STEP + d) for d in range(-3, 4)]
    assert len(set(codes)) == len(codes)


def test_current_totp_code_is_accepted_and_returns_its_step():
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP), last_step=0, now=NOW) == STEP


@pytest.mark.parametrize("drift", [-1, 1])
def test_totp_code_one_step_off_is_accepted(drift):
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP + drift), last_step=0, now=NOW) == STEP + drift


@pytest.mark.parametrize("drift", [-2, 2, -3, 3])
def test_totp_code_two_or_more_steps_off_is_refused(drift):
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP + drift), last_step=0, now=NOW) is None


def test_totp_code_replay_is_refused():
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP), last_step=STEP, now=NOW) is None
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP - 1), last_step=STEP - 1, now=NOW) is None
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP - 1), last_step=STEP, now=NOW) is None
    # A later step than the last one used is still fine.
    assert mfa.verify_totp(TOTP_SECRET, _code(STEP + 1), last_step=STEP, now=NOW) == STEP + 1


def test_totp_code_with_spaces_is_accepted():
    code = _code(STEP)
    assert mfa.verify_totp(TOTP_SECRET, f" {code[:3]} {code[3:]} ", last_step=0, now=NOW) == STEP


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "12a456",
        "abcdef",
        "-12345",
        # Full-width and Arabic-Indic digits pass str.isdigit(); they must be refused, not crash.
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "\u0661\u0662\u0663\u0664\u0665\u0666",
    ],
    ids=["empty", "five", "seven", "letter", "letters", "sign", "full-width", "arabic-indic"],
)
def test_totp_code_that_is_not_six_ascii_digits_is_refused(code):
    assert mfa.verify_totp(TOTP_SECRET, code, last_step=0, now=NOW) is None


def test_new_totp_secret_is_random_base32():
    first, second = mfa.new_totp_secret(), mfa.new_totp_secret()
    assert first != second
    assert len(first) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_provisioning_uri_names_issuer_and_account():
    uri = mfa.provisioning_uri(TOTP_SECRET, email="viewer@example.com", issuer="VMS Platform")
    assert uri.startswith("otpauth://totp/")
    assert "viewer%40example.com" in uri
    assert "issuer=VMS%20Platform" in uri
    assert f"secret={TOTP_SECRET}" in uri


# --- recovery codes -------------------------------------------------------------------------------


def test_recovery_codes_are_ten_unique_codes_with_matching_hashes():
    codes, hashes = mfa.new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert hashes == [mfa.hash_recovery_code(c) for c in codes]
    assert len(set(hashes)) == 10
    for code in codes:
        left, right = code.split("-")
        assert len(left) == len(right) == 5
        assert not set(left + right) & set("0o1li")  # no characters that are misread aloud


def test_recovery_codes_differ_between_issues():
    assert set(mfa.new_recovery_codes()[0]).isdisjoint(mfa.new_recovery_codes()[0])


def test_recovery_code_hash_ignores_case_and_spaces():
    expected = mfa.hash_recovery_code("abcde-fghjk")
    assert mfa.hash_recovery_code("ABCDE-FGHJK") == expected
    assert mfa.hash_recovery_code("  abcde-fghjk\n") == expected
    assert mfa.hash_recovery_code("abc de-fgh jk") == expected
    assert mfa.hash_recovery_code("abcde-fghjm") != expected
    assert "abcde" not in expected
