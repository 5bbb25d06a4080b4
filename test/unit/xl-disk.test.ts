import { describe, expect, it } from "vitest";
import { convertConfigText, convertLine } from "../../src/core/xl-disk";

const IQN = "iqn.2014-06.fr.example:vm-sn-1";

describe("xl-disk conversion", () => {
  it("converts the legacy entry, target= last", () => {
    expect(convertLine(`'iscsimple:lun0@${IQN}+my-vm-disk,xvda2,w'`)).toBe(
      `vdev=xvda2,access=rw,script=block-iscsimple,target=lun0@${IQN}+my-vm-disk`,
    );
    expect(convertLine(`iscsimple:${IQN},xvdb,r`)).toBe(`vdev=xvdb,access=ro,script=block-iscsimple,target=${IQN}`);
  });
  it("converts every entry of a config file and keeps the rest", () => {
    const cfg = `name = "vm"\ndisk = [ 'iscsimple:lun0@${IQN}+a,xvda2,w',\n  'phy:/dev/vg0/swap,xvda1,w',\n  "iscsimple:lun1@${IQN}+b,xvda3,w" ]\n`;
    const r = convertConfigText(cfg);
    expect(r.changed).toBe(2);
    expect(r.text).toBe(
      `name = "vm"\ndisk = [ 'vdev=xvda2,access=rw,script=block-iscsimple,target=lun0@${IQN}+a',\n  'phy:/dev/vg0/swap,xvda1,w',\n  "vdev=xvda3,access=rw,script=block-iscsimple,target=lun1@${IQN}+b" ]\n`,
    );
  });
  it.each([
    [`iscsimple:${IQN}`, /expected 'iscsimple:SPEC,VDEV\[,MODE\]'/],
    [`iscsimple:${IQN},xvda2,x`, /mode 'x' is not r or w/],
    [`iscsimple:${IQN},/dev/sda,w`, /not a virtual device name/],
    [`phy:/dev/sda,xvda,w`, /does not start with 'iscsimple:'/],
    [`iscsimple:lun1@BAD,xvda,w`, /bad target spec/],
  ])("rejects %j", (line, why) => {
    expect(() => convertLine(line)).toThrow(why);
  });
});
