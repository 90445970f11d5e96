// Shapes the camera screens' tests share: a discovery job, a discovered device, a camera, a fake EventSource.
import { vi } from "vitest";
import type { CameraRead } from "../api";
import type { DiscoveredDevice, DiscoveryJobRead } from "./queries";

export function job(extra: Partial<DiscoveryJobRead> = {}): DiscoveryJobRead {
  return {
    id: "job-1",
    method: "scan",
    targets: "127.0.91.0/29",
    multicast: false,
    ports: [10554, 10080],
    timeout_s: 1,
    with_credentials: false,
    status: "running",
    hosts_total: 6,
    hosts_done: 0,
    devices_found: 0,
    progress: 0,
    error: null,
    created_at: "2026-03-01T10:00:00Z",
    started_at: "2026-03-01T10:00:00Z",
    finished_at: null,
    results: [],
    ...extra,
  };
}

export function device(index: number, extra: Partial<DiscoveredDevice> = {}): DiscoveredDevice {
  return {
    index,
    host: `127.0.91.${index + 1}`,
    kind: "onvif",
    via: "scan",
    ports: [10080],
    manufacturer: "Simcam",
    model: "SIM-PTZ",
    firmware: null,
    serial: null,
    name: null,
    device_url: `http://127.0.91.${index + 1}:10080/onvif/device_service`,
    rtsp_url: null,
    requires_auth: true,
    scopes: [],
    camera_id: null,
    known_camera_id: null,
    ...extra,
  };
}

export const CAMERA_ID = "00000000-0000-0000-0000-00000000ca01";

export function camera(extra: Partial<CameraRead> = {}): CameraRead {
  return {
    id: CAMERA_ID,
    name: "Gate PTZ",
    main_url: "rtsp://127.0.0.1:58554/cam1",
    sub_url: "rtsp://127.0.0.1:58554/cam2",
    manufacturer: "Simcam",
    model: "SIM-PTZ",
    firmware: "1.0.0",
    zone_id: null,
    tags: [],
    external_id: null,
    auth_method: "digest",
    has_credentials: true,
    status: "online",
    main_stream: { codec: "h264", width: 1920, height: 1080, fps: 25, bitrate_kbps: 3900, declared_bitrate_kbps: null, gop_s: 2 },
    sub_stream: { codec: "h264", width: 640, height: 360, fps: 15, bitrate_kbps: 500, declared_bitrate_kbps: null, gop_s: 2 },
    probed_at: "2026-03-01T10:00:00Z",
    enabled_models: ["motion"],
    model_streams: { motion: "sub" },
    device: { kind: "onvif", url: "http://127.0.0.1:8899/onvif/device_service" },
    created_at: "2026-03-01T10:00:00Z",
    updated_at: null,
    ...extra,
  };
}

/** EventSource for jsdom: tests push server events with `emit`. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  readonly url: string;
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((e: MessageEvent<string>) => void)[]>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(name: string, fn: (e: MessageEvent<string>) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }
  close() {
    this.closed = true;
  }
  emit(name: string, data: unknown) {
    const event = new MessageEvent(name, { data: JSON.stringify({ type: name, ...(data as object) }) });
    this.listeners.get(name)?.forEach((fn) => fn(event));
  }
  static install() {
    FakeEventSource.instances = [];
    vi.stubGlobal("EventSource", FakeEventSource);
  }
}
