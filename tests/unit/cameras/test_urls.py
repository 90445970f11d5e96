"""Stream URL checks and credential handling, without the API."""

from __future__ import annotations

import pytest

from vms.cameras.urls import check_stream_url, host_port, redact, split_credentials, with_credentials


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://10.0.0.7/ch1", "rtsp://10.0.0.7/ch1"),
        ("RTSP://Cam.Example.com:8554/ch1?subtype=1", "rtsp://Cam.Example.com:8554/ch1?subtype=1"),
        ("rtsps://[2001:db8::1]:322/live", "rtsps://[2001:db8::1]:322/live"),
        ("http://10.0.0.7/mjpg/video.mjpg", "http://10.0.0.7/mjpg/video.mjpg"),
        ("https://cam-1.local:65535/x", "https://cam-1.local:65535/x"),
        ("rtsp://10.0.0.7:1/x", "rtsp://10.0.0.7:1/x"),
    ],
)
def test_good_urls_pass_with_the_scheme_lower_cased(url, expected):
    assert check_stream_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "udp://10.0.0.7:5000",
        "rtmp://10.0.0.7/live",
        "file:///etc/passwd",
        "rtsp://",
        "rtsp://:554/x",
        "rtsp://10.0.0.7:65536/x",
        "rtsp://10.0.0.7:-1/x",
        "rtsp://10.0.0.7/\tx",
        "rtsp://10.0.0.7/x\u00a0y",
        "rtsp://10.0.0.7/x\x7f",
        "rtsp://-bad-.example/x",
        "rtsp://a..b/x",
    ],
)
def test_bad_urls_raise_a_clear_value_error(url):
    with pytest.raises(ValueError, match="URL"):
        check_stream_url(url)


def test_messages_never_repeat_the_url():
    with pytest.raises(ValueError) as caught:
        check_stream_url("rtsp://admin:hunter2@10.0.0.7:99999/x")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "clean", "username", "password"),
    [
        ("rtsp://admin:pa55@10.0.0.7/ch1", "rtsp://10.0.0.7/ch1", "admin", "pa55"),
        ("rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.7:554/ch1", "rtsp://10.0.0.7:554/ch1", "admin", "p@ss:w/rd"),
        ("rtsp://admin:p@ss@10.0.0.7/ch1", "rtsp://10.0.0.7/ch1", "admin", "p@ss"),  # last @ separates
        ("rtsp://admin@10.0.0.7/ch1", "rtsp://10.0.0.7/ch1", "admin", None),
        ("rtsp://admin:@10.0.0.7/ch1", "rtsp://10.0.0.7/ch1", "admin", ""),
        ("rtsp://10.0.0.7/ch1?user=a@b", "rtsp://10.0.0.7/ch1?user=a@b", None, None),
    ],
)
def test_credentials_are_split_from_the_url(url, clean, username, password):
    assert split_credentials(url) == (clean, username, password)


@pytest.mark.parametrize(("username", "password"), [("admin", "p@ss:w/rd #1%"), ("ädmin", "пароль"), ("u", None)])
def test_credentials_round_trip_through_the_url(username, password):
    url = with_credentials("rtsp://10.0.0.7:554/ch1", username, password)

    assert split_credentials(url) == ("rtsp://10.0.0.7:554/ch1", username, password)
    assert check_stream_url(url)


def test_no_credentials_leave_the_url_alone():
    assert with_credentials("rtsp://10.0.0.7/x", None, None) == "rtsp://10.0.0.7/x"


def test_redact_and_host_port():
    assert redact("rtsp://a:b@10.0.0.7:8554/x") == "rtsp://10.0.0.7:8554/x"
    assert redact("/tmp/file.mp4") == "/tmp/file.mp4"
    assert redact("rtsp://admin:pa/ss#1@10.0.0.7:554/x") == "rtsp://***@10.0.0.7:554/x"  # unencoded / and #
    assert host_port("rtsp://a:b@10.0.0.7/x") == "10.0.0.7:554"
    assert host_port("https://cam/x") == "cam:443"
    assert host_port("rtsp://[::1]:9/x") == "[::1]:9"
