"""Configuration from the environment."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from adapters import metrics
from adapters.settings import SettingsError, load


def test_defaults_match_the_documented_table():
    s = load({})
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/backlynk"
    assert s.read_url == s.database_url
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert (s.port, s.verify_sites, s.public_check_rate, s.fetch_allow_cidrs) == (
        8000,
        True,
        30,
        (),
    )
    assert s.queue_name == "backlynk:queue"
    assert (s.host, s.public_check_urls, s.register_rate, s.refresh_rate) == (
        "0.0.0.0",
        300,
        20,
        60,
    )


def test_variables_are_read_and_parsed():
    s = load(
        {
            "READ_DATABASE_URL": "postgresql://replica/backlynk",
            "PORT": "9000",
            "BACKLYNK_VERIFY_SITES": "0",
            "BACKLYNK_PUBLIC_CHECK_RATE": "5",
            "BACKLYNK_FETCH_ALLOW_CIDRS": "127.0.0.0/8, 10.1.0.0/16",
        }
    )
    assert s.read_url == "postgresql://replica/backlynk"
    assert (s.port, s.verify_sites, s.public_check_rate) == (9000, False, 5)
    assert [str(n) for n in s.allowed_networks()] == ["127.0.0.0/8", "10.1.0.0/16"]


def test_the_read_your_writes_wait_is_a_setting():
    assert load({}).read_your_writes_wait == 2.0
    assert load({"BACKLYNK_READ_YOUR_WRITES_WAIT": "0"}).read_your_writes_wait == 0
    assert load({"BACKLYNK_READ_YOUR_WRITES_WAIT": "60"}).read_your_writes_wait == 60


def test_no_jwt_secret_outside_dev_refuses_to_start():
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load({}).signing_secret  # noqa: B018
    assert load({"BACKLYNK_DEV": "1"}).signing_secret
    assert load({"JWT_SECRET": "x" * 40}).signing_secret == "x" * 40


def test_a_jwt_secret_under_32_bytes_is_refused_outside_dev():
    with pytest.raises(SettingsError, match="31 bytes"):
        load({"JWT_SECRET": "x" * 31}).signing_secret  # noqa: B018
    # bytes, not characters: 11 three-byte characters are 33 bytes
    assert load({"JWT_SECRET": "€" * 11}).signing_secret == "€" * 11
    assert load({"JWT_SECRET": "short", "BACKLYNK_DEV": "1"}).signing_secret == "short"


def test_host_and_empty_values_mean_the_default():
    s = load({"HOST": "::", "PORT": "", "BACKLYNK_PUBLIC_CHECK_RATE": " "})
    assert (s.host, s.port, s.public_check_rate) == ("::", 8000, 30)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "99999"),
        ("PORT", "0"),
        ("BACKLYNK_PUBLIC_CHECK_RATE", "0"),
        ("BACKLYNK_PUBLIC_CHECK_RATE", "-3"),
        ("BACKLYNK_PUBLIC_CHECK_URLS", "1.5"),
        ("BACKLYNK_REGISTER_RATE", "0"),
        ("BACKLYNK_JOB_TIMEOUT", "0"),
        ("BACKLYNK_PASSWORD_CONCURRENCY", "-1"),
        ("BACKLYNK_HOST_DELAY", "inf"),
        ("BACKLYNK_READ_YOUR_WRITES_WAIT", "-1"),
    ],
)
def test_a_value_out_of_range_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load({name: value})


def test_cheap_password_hashing_is_refused_outside_dev():
    with pytest.raises(SettingsError, match="BACKLYNK_FAST_PASSWORD_HASHING"):
        load({"BACKLYNK_FAST_PASSWORD_HASHING": "1"})
    assert load({"BACKLYNK_FAST_PASSWORD_HASHING": "1", "BACKLYNK_DEV": "1"}).fast_password_hashing
    assert load({"BACKLYNK_FAST_PASSWORD_HASHING": "1"}, dev=True).fast_password_hashing


#: read by the libraries the processes run (uvicorn, Python's ssl), not by `load`
READ_BY_LIBRARIES = {"FORWARDED_ALLOW_IPS", "SSL_CERT_FILE"}


def _documented_variables() -> set[str]:
    """The first column of the README's Configuration table."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def _variables_the_code_reads() -> set[str]:
    """Every name `load` reads from the environment, and the metrics directory variable."""
    source = inspect.getsource(load)
    names = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))
    return names | {metrics.DIRECTORY_VARIABLE}


def test_the_readme_documents_every_variable_the_code_reads():
    documented = _documented_variables()
    read = _variables_the_code_reads()
    assert "BACKLYNK_PUBLIC_CHECK_URLS" in read and "HOST" in read  # the scan finds them
    assert read - documented == set(), "read but missing from README ## Configuration"
    assert documented - read - READ_BY_LIBRARIES == set(), "documented but read by nothing"
