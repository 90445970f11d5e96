import { describe, expect, it } from "vitest";
import { draftOf, editorKind, groupParameters, parseDraft, type Parameter } from "./model";

const num = { value_schema: { type: "number", minimum: 0, maximum: 1 }, bounds: "0–1" };
const int = { value_schema: { type: "integer", minimum: 1, maximum: 10 }, bounds: "1–10" };

describe("parameter editors", () => {
  it("picks an editor from the value's JSON Schema", () => {
    expect(editorKind({ enum: ["a"], type: "string" })).toBe("choice");
    expect(editorKind({ type: "array", items: { enum: ["push"] } })).toBe("multi");
    expect(editorKind({ anyOf: [] } as never)).toBe("json");
  });

  it("keeps values within the registry's bounds", () => {
    expect(parseDraft(num, "0.7")).toEqual({ ok: true, value: 0.7 });
    expect(parseDraft(num, "1.2")).toEqual({ ok: false, error: "Allowed: 0–1." });
    expect(parseDraft(num, "")).toEqual({ ok: false, error: "Enter a number." });
    expect(parseDraft(int, "2.5")).toEqual({ ok: false, error: "Enter a whole number." });
    expect(parseDraft({ value_schema: {}, bounds: "" }, "{bad")).toMatchObject({ ok: false });
    expect(parseDraft({ value_schema: {}, bounds: "" }, '"motion"')).toEqual({ ok: true, value: "motion" });
    expect(draftOf("json", null)).toBe("null");
  });

  it("groups the parameters a level may set", () => {
    const p = (key: string, levels: string[]) => ({ key, levels }) as unknown as Parameter;
    const groups = groupParameters([p("video.fps", ["camera"]), p("models.x.min_height", ["system"]), p("retention.days", ["camera"])], "camera");
    expect(groups.get("video")!.map((x) => x.key)).toEqual(["video.fps"]);
    expect(groups.get("models")).toEqual([]);
    expect(groups.get("retention")!).toHaveLength(1);
  });
});
