import pytest

from queuectl import config
from queuectl.config import Config
from queuectl.errors import UserError


def test_hyphens_and_underscores_are_the_same_key():
    assert config.setting("max-retries") is config.setting("max_retries")
    assert config.setting(" Backoff-Base ") is config.setting("backoff_base")


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(UserError, match="valid keys: max_retries, backoff_base"):
        config.setting("retries")


@pytest.mark.parametrize(
    "key, raw, value",
    [
        ("max_retries", "5", 5),
        ("max_retries", 0, 0),
        ("backoff_base", "2.5", 2.5),
        ("poll_interval", "0.01", 0.01),
        ("output_limit", "104857600", 104857600),
        ("kill_grace", 0, 0.0),
    ],
)
def test_valid_values(key, raw, value):
    assert config.setting(key).parse(raw) == value


@pytest.mark.parametrize(
    "key, raw",
    [
        ("max_retries", "-1"),
        ("max_retries", "1001"),
        ("max_retries", "2.5"),
        ("max_retries", True),
        ("backoff_base", "0.5"),
        ("poll_interval", "0"),
        ("lease_seconds", "nan"),
        ("lease_seconds", "inf"),
        ("output_limit", "lots"),
    ],
)
def test_invalid_values_name_the_range(key, raw):
    with pytest.raises(UserError, match="must be"):
        config.setting(key).parse(raw)


def test_defaults_and_stored_values():
    assert Config.from_stored({}).max_retries == 3
    stored = Config.from_stored({"max_retries": 5, "backoff_base": 3, "junk": 1})
    assert (stored.max_retries, stored.backoff_base, stored.lease_seconds) == (5, 3.0, 30.0)
    # a stored value that no longer validates falls back to the default
    assert Config.from_stored({"max_retries": -4}).max_retries == 3


@pytest.mark.parametrize(
    "key, raw, value",
    [
        ("job_timeout", "5m", 300.0),
        ("job_timeout", "30", 30.0),
        ("job_timeout", " 2h ", 7200.0),
        ("kill_grace", "0.5s", 0.5),
        ("lease_seconds", "1m", 60.0),
        ("poll_interval", "0.5", 0.5),
        ("backoff_max", "1d", 86400.0),
        ("backoff_max", 90, 90.0),
    ],
)
def test_duration_settings_take_the_dur_forms(key, raw, value):
    assert config.setting(key).duration
    assert config.setting(key).parse(raw) == value


@pytest.mark.parametrize(
    "key, raw",
    [("job_timeout", "5x"), ("job_timeout", "-5m"), ("lease_seconds", "2h"), ("kill_grace", "nan")],
)
def test_bad_durations_name_the_forms_and_the_range(key, raw):
    with pytest.raises(UserError, match=r"must be a duration from .* seconds \(30, 30s, 5m"):
        config.setting(key).parse(raw)


@pytest.mark.parametrize(
    "key, raw, value",
    [
        ("log_max_size", "10M", 10 * 1024**2),
        ("log_max_size", "10MiB", 10 * 1024**2),
        ("log_max_size", "1.5 KB", 1536),
        ("log_max_size", "512k", 512 * 1024),
        ("log_max_size", "0", 0),
        ("log_max_size", 4096, 4096),
        ("output_limit", "1M", 1024**2),
    ],
)
def test_size_settings_take_a_unit(key, raw, value):
    assert config.setting(key).parse(raw) == value


@pytest.mark.parametrize("raw", ["10X", "-1K", "2T", "M", "1e3"])
def test_bad_sizes_name_the_forms_and_the_range(raw):
    with pytest.raises(UserError, match=r"must be a size from 0 to .* bytes \(1048576, 512K"):
        config.setting("log_max_size").parse(raw)


def test_the_log_size_defaults_to_10_mib():
    assert Config.from_stored({}).log_max_size == 10 * 1024**2


def test_counts_and_the_backoff_base_are_not_durations():
    for key in ("max_retries", "backoff_base"):
        assert not config.setting(key).duration
        with pytest.raises(UserError, match="must be an? (integer|number)"):
            config.setting(key).parse("5m")


@pytest.mark.parametrize(
    "value, shown", [(300.0, "300"), (0.0, "0"), (0.5, "0.5"), (0.01, "0.01"), (3, "3")]
)
def test_values_are_shown_without_a_needless_fraction(value, shown):
    assert config.format_value(value) == shown
