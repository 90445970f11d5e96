"""Streaming: live view through the go2rtc gateway (WebRTC), HLS from our own segments, playback,
exports, and the signed media URLs that video elements need."""
