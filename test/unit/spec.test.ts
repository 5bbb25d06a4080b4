import { describe, expect, it } from "vitest";
import { InputError } from "../../src/core/errors";
import { iscsiNameProblem } from "../../src/core/iqn";
import { formatSpec, parseSpec } from "../../src/core/spec";

const IQN = "iqn.2014-06.fr.example.filer1:my-vm-sn-00000001";

describe("parseSpec", () => {
  it("reads lunN@IQN+LABEL", () => {
    expect(parseSpec(`lun1@${IQN}+my-vm-disk`)).toEqual({ text: `lun1@${IQN}+my-vm-disk`, iqn: IQN, lun: 1, label: "my-vm-disk" });
  });
  it("defaults to LUN 0 and allows no label", () => {
    expect(parseSpec(IQN)).toMatchObject({ iqn: IQN, lun: 0, label: null });
  });
  it("strips the legacy iscsimple: prefix", () => {
    expect(parseSpec(`iscsimple:lun2@${IQN}+x`)).toMatchObject({ text: `lun2@${IQN}+x`, lun: 2, label: "x" });
  });
  it("reads MISSING as no iSCSI leg, and then needs a label", () => {
    expect(parseSpec("MISSING+local-only")).toMatchObject({ iqn: null, label: "local-only" });
    expect(parseSpec("lun0@MISSING-on-purpose+l")).toMatchObject({ iqn: null });
    expect(() => parseSpec("MISSING")).toThrow(/a \+LABEL for the local leg is required/);
  });
  it("accepts eui. and naa. names", () => {
    expect(parseSpec("eui.02004567A425678D").iqn).toBe("eui.02004567A425678D");
    expect(parseSpec("naa.52004567BA64678D").iqn).toBe("naa.52004567BA64678D");
  });
  it.each([
    ["", /empty/],
    ["lun@" + IQN, /LUN part 'lun'/],
    ["lun01@" + IQN, /LUN part 'lun01'/],
    ["lun99999@" + IQN, /above 16383/],
    ["disk1@" + IQN, /LUN part 'disk1'/],
    [`lun1@lun2@${IQN}`, /more than one '@'/],
    [`${IQN}+a+b`, /more than one '\+'/],
    [`${IQN}+`, /label '': it is empty/],
    [`${IQN}+my/../disk`, /character '\/' is not allowed/],
    [`${IQN}+my disk`, /white space/],
    [`${IQN}+$(reboot)`, /character '\$'/],
    ["iqn.2014-13.fr.example:x", /month '13'/],
    ["iqn.14-06.fr.example:x", /expected iqn\.YYYY-MM/],
    ["iqn.2014-06.fr.example:x;rm", /character ';'/],
    ["IQN.2014-06.fr.example:x", /lower case/],
    ["target1", /starts with iqn\., eui\. or naa\./],
    ["eui.123", /16 hex digits/],
    [`iqn.2014-06.fr.${"a".repeat(230)}`, /longer than 223/],
    ["x".repeat(500), /longer than 400/],
  ])("rejects %j", (input, why) => {
    expect(() => parseSpec(input)).toThrow(InputError);
    expect(() => parseSpec(input)).toThrow(why);
  });
  it("names the whole spec in the message", () => {
    expect(() => parseSpec("lun1@bad")).toThrow(/^bad target spec "lun1@bad": IQN 'bad'/);
  });
  it("formats the canonical spec", () => {
    expect(formatSpec(parseSpec(`iscsimple:${IQN}+l`))).toBe(`lun0@${IQN}+l`);
    expect(formatSpec(parseSpec("MISSING+l"))).toBe("lun0@MISSING+l");
  });
});

describe("iscsiNameProblem", () => {
  it("accepts RFC 3720 examples", () => {
    for (const n of ["iqn.2001-04.com.example:storage:diskarrays-sn-a8675309", "iqn.2001-04.com.example", "iqn.2001-04.com.example:storage.tape1.sys1.xyz"]) {
      expect(iscsiNameProblem(n)).toBeNull();
    }
  });
  it("rejects a domain label ending with a hyphen", () => {
    expect(iscsiNameProblem("iqn.2001-04.com-.example")).not.toBeNull();
  });
});
