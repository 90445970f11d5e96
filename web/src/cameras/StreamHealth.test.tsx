import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { StreamHealth } from "./StreamHealth";
import { camera } from "./testData";

const NOW = Date.parse("2026-03-01T12:00:00Z");

describe("stream health", () => {
  it("says why a camera is down, what to do, and the reader's error", () => {
    render(
      <StreamHealth
        now={NOW}
        camera={camera({
          status: "auth_failed",
          fault: "auth_failed",
          last_error: "camera refused the credentials: 401 Unauthorized 'rtsp://10.0.0.5:554/main'",
          status_changed_at: "2026-03-01T11:55:00Z",
          last_frame_at: "2026-03-01T11:54:30Z",
        })}
      />,
    );
    const panel = screen.getByRole("region", { name: "Stream health" });
    expect(within(panel).getByRole("status")).toHaveTextContent("The camera refuses the stored credentials.");
    expect(within(panel).getByRole("status")).toHaveTextContent("Update the credentials under “Edit details”");
    expect(panel).toHaveTextContent("401 Unauthorized");
    expect(panel).toHaveTextContent("Status since5 min ago");
    expect(panel).toHaveTextContent("Last video6 min ago");
  });

  it("shows the measured figures of a healthy stream and no problem", () => {
    render(
      <StreamHealth
        now={NOW}
        camera={camera({
          status: "online",
          fault: null,
          last_frame_at: "2026-03-01T11:59:20Z",
          stream_stats: {
            reconnects: 2,
            segments: 120,
            bitrate_kbps: 3912.4,
            fps: 25,
            keyframe_interval_s: 2,
            format: "h264 1920x1080",
            clock: "camera",
            pending_segments: 0,
            lost_segments: 0,
          },
        })}
      />,
    );
    const panel = screen.getByRole("region", { name: "Stream health" });
    expect(within(panel).queryByRole("status")).toBeNull();
    for (const text of ["Bitrate3912 kbit/s", "Frame rate25.0 fps", "Keyframe interval2.0 s", "Reconnects2", "Clockcamera (RTCP)", "Last video40 s ago"])
      expect(panel).toHaveTextContent(text);
    expect(panel).not.toHaveTextContent("Waiting for storage");
  });

  it("says when nothing has been measured yet", () => {
    render(<StreamHealth now={NOW} camera={camera({ status: "unknown", stream_stats: null, last_frame_at: null })} />);
    expect(screen.getByText("none received yet")).toBeInTheDocument();
    expect(screen.getByText(/Measured figures appear here/)).toBeInTheDocument();
  });
});
