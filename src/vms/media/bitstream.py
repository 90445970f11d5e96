"""What a keyframe says about the stream's format, read without decoding the picture.

Cameras send their parameter sets (H.264 SPS/PPS, H.265 VPS/SPS/PPS) in-band before every keyframe.
When the operator changes the resolution or profile, many cameras keep the RTSP session and just
send new parameter sets; a demuxer keeps reporting the old size and the old `extradata`. Comparing
the in-band parameter sets of each keyframe with the segment's catches the change, so the segmenter
can start a new segment with the new format instead of writing 720p pictures under a 1080p header.

Only Annex B packets (start codes, as RTSP and MPEG-TS deliver them) are read; MP4-style
length-prefixed packets carry no start codes and are left alone (a file does not change format).
"""

from __future__ import annotations

import av

# NAL unit types that are parameter sets, and the first type that is picture data (where to stop looking).
_PARAMETER_SETS = {"h264": {7, 8}, "hevc": {32, 33, 34}}
SCAN_BYTES = 64 * 1024  # parameter sets come first; never scan a whole keyframe


def _nal_type(codec: str, header: int) -> int:
    return header & 0x1F if codec == "h264" else (header >> 1) & 0x3F


def _is_picture(codec: str, nal_type: int) -> bool:
    return 1 <= nal_type <= 5 if codec == "h264" else nal_type <= 31


def is_annexb(data: bytes) -> bool:
    """Whether `data` (a packet or extradata) uses start codes rather than length prefixes or avcC/hvcC."""
    return data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))


def parameter_sets(codec: str, data: bytes) -> bytes | None:
    """The parameter-set NAL units at the start of an Annex B keyframe, in Annex B form; None if it has none."""
    kinds = _PARAMETER_SETS.get(codec)
    if kinds is None or not is_annexb(data):
        return None
    head = data[:SCAN_BYTES]
    found: list[bytes] = []
    start = head.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(head):
        begin = start + 3
        nal = _nal_type(codec, head[begin])
        end = head.find(b"\x00\x00\x01", begin)
        if _is_picture(codec, nal):
            break
        if nal in kinds:
            body = head[begin : end if end != -1 else len(head)]
            found.append(b"\x00\x00\x00\x01" + body.rstrip(b"\x00"))  # a trailing zero belongs to a 4-byte start code
        start = end
    return b"".join(found) or None


def picture_size(codec: str, extradata: bytes, keyframe: bytes) -> tuple[int, int] | None:
    """Width and height of a keyframe, by decoding that one picture (only done when the format changes)."""
    try:
        decoder = av.CodecContext.create(codec, "r")
        assert isinstance(decoder, av.VideoCodecContext)
        decoder.extradata = extradata
        frames = decoder.decode(av.Packet(keyframe)) + decoder.decode(None)
    except (av.FFmpegError, ValueError):
        return None
    return (frames[0].width, frames[0].height) if frames else None
