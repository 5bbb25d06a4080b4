import { describe, expect, it } from "vitest";
import { describeError, EXIT, FailedError, InputError, InternalError, RefusedError, StepFailed } from "../../src/core/errors";
import { CommandError } from "../../src/host/run";

describe("one error family", () => {
  it("each kind carries its exit code; anything else is a failure", () => {
    expect(describeError(new InputError("bad spec"))).toEqual({ message: "bad spec", exitCode: EXIT.badInput });
    expect(describeError(new RefusedError("in use"))).toEqual({ message: "in use", exitCode: EXIT.refused });
    expect(describeError(new FailedError("mdadm failed"))).toEqual({ message: "mdadm failed", exitCode: EXIT.failed });
    expect(describeError(new InternalError("oops")).message).toBe("internal: oops");
    expect(describeError(new Error("plain"))).toEqual({ message: "plain", exitCode: EXIT.failed });
    expect(describeError("a string")).toEqual({ message: "a string", exitCode: EXIT.failed });
  });

  it("a failed step keeps its cause, and the cause's exit code (a refusal found by a step stays a refusal)", () => {
    const cause = new RefusedError("the local leg is mounted");
    const e = new StepFailed("check the local leg /dev/vg0/x failed: the local leg is mounted", cause);
    expect(e.cause).toBe(cause);
    expect(e.exitCode).toBe(EXIT.refused);
    const cmd = new CommandError("iscsiadm -m node -T x --login failed (exit 24)", ["iscsiadm", "-m", "node", "-T", "x", "--login"], 24);
    expect(new StepFailed("log in to x failed", cmd).exitCode).toBe(EXIT.failed);
    expect(cmd).toBeInstanceOf(FailedError);
    expect(cmd.status).toBe(24);
  });

  it("the message is one line without control characters (xenstore, syslog, a terminal)", () => {
    expect(describeError(new FailedError("a\nb\u001b[31m c")).message).toBe("a b [31m c");
    expect(new InputError("x").name).toBe("InputError");
  });
});
