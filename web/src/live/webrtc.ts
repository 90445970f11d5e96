// WebRTC live view through the API's signalling proxy to the go2rtc gateway (docs/live.md): a
// receive-only peer connection, the offer sent once ICE gathering is done (go2rtc takes no trickled
// candidates), the gateway's answer applied. Media then flows from the gateway to the browser.
import { api, ApiError, unwrap, type Schemas } from "../api";
import type { StreamName } from "./layout";

/** A failure that should send the tile to HLS, with the reason shown to the user. */
export class WebRtcUnavailable extends Error {}

const GATHER_MS = 2_000;

function gathered(pc: RTCPeerConnection): Promise<void> {
  return new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
    setTimeout(done, GATHER_MS);
  });
}

export function webrtcAvailable(): boolean {
  return typeof window !== "undefined" && typeof window.RTCPeerConnection === "function";
}

/** Why the API refused an offer, in the tile's words. */
export function refusal(error: unknown): string {
  if (error instanceof ApiError) {
    const detail = error.problem.detail || error.title;
    if (error.status === 503) return `is unavailable (${detail})`;
    return `was refused (${detail})`;
  }
  return `failed (${error instanceof Error ? error.message : String(error)})`;
}

/**
 * Start playing `cameraId` over WebRTC in `video`. Resolves with a stop function once the answer is
 * set; `onFailed` is called if the connection fails later. Throws WebRtcUnavailable otherwise.
 */
export async function startWebRtc(
  video: HTMLVideoElement,
  cameraId: string,
  stream: StreamName,
  onFailed: (reason: string) => void,
): Promise<() => void> {
  if (!webrtcAvailable()) throw new WebRtcUnavailable("is not supported by this browser");
  let pc: RTCPeerConnection | null = null;
  try {
    const { ice_servers } = unwrap(await api.GET("/api/v1/live/ice-servers"));
    pc = new RTCPeerConnection({
      iceServers: ice_servers.map((s) => ({
        urls: s.urls,
        username: s.username ?? undefined,
        credential: s.credential ?? undefined,
      })),
    });
    const peer = pc;
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addEventListener("track", (e) => {
      video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      void video.play().catch(() => undefined);
    });
    peer.addEventListener("connectionstatechange", () => {
      if (peer.connectionState === "failed") onFailed("lost its connection");
    });
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    const answer = unwrap(
      await api.POST("/api/v1/cameras/{camera_id}/live/webrtc", {
        params: { path: { camera_id: cameraId }, query: { stream } },
        body: { type: "offer", sdp: peer.localDescription?.sdp ?? "" },
      }),
    ) as Schemas["SdpAnswer"]; // a JSON offer is answered with JSON (an SDP body gets raw SDP)
    await peer.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return () => {
      peer.close();
      video.srcObject = null;
    };
  } catch (error) {
    pc?.close();
    throw new WebRtcUnavailable(refusal(error));
  }
}
