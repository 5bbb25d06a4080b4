import { EXIT, oneLine } from "../core/errors";
import { mdEvent } from "../engine/md-event";
import { withContext } from "./context";

const MD_PATH_RE = /^\/dev\/(?:md\/)?[A-Za-z0-9_-]{1,64}$/;

/** One event of mdadm --monitor: writes the direction guard at once when only the local leg is current. */
export async function mdEventCommand(event: string, mdPath: string, member: string | null): Promise<number> {
  if (!MD_PATH_RE.test(mdPath) || (member !== null && !/^\/dev\/[A-Za-z0-9_./:-]{1,200}$/.test(member))) {
    process.stderr.write(`block-iscsimple: md event ${event}: unexpected device '${oneLine(mdPath, 80)}'\n`);
    return EXIT.badInput;
  }
  return withContext({}, "md-event", async (ctx) => {
    await mdEvent(ctx.host, event, mdPath, member);
    return EXIT.ok;
  });
}
