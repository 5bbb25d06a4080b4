/**
 * A LUN is known by its WWID, never by its number: a filer may delete a LUN and map another volume
 * at the same number, or a mapping may be edited while a leg is down. Before anything copies the
 * local leg over a LUN (heal, the monitor, an add built from the local leg), the WWID the device has
 * now must be the one recorded when the array was built. Pure: the engine reads the WWIDs.
 */
export interface LunIdentity {
  readonly label: string;
  /** The LUN as the administrator knows it, e.g. "lun1 of iqn...". */
  readonly lun: string;
  /** The device that would be written (a path device or a multipath map). */
  readonly device: string;
  /** The WWID recorded when the array was built (null or absent: none was recorded). */
  readonly recorded: string | null | undefined;
  /** Every WWID that names the device now: a map's own and each of its paths' (null: unreadable). */
  readonly now: readonly (string | null)[];
}

/** Why the copy must not happen (the refusal's message), or null when the device is the LUN the array had. */
export function lunIdentityProblem(i: LunIdentity): string | null {
  const what = `label '${i.label}': refusing to copy the local leg over ${i.lun} (${i.device})`;
  const kept = "the direction guard stays set; check the filer's LUN mapping";
  if (!i.recorded) {
    return `${what}: no WWID was recorded for it when the array was built, so nothing proves it is the same volume; ${kept}`;
  }
  if (i.now.length === 0 || i.now.some((w) => w === null)) {
    return `${what}: its WWID cannot be read, so nothing proves it is the volume the array had (WWID ${i.recorded}); ${kept}`;
  }
  const other = i.now.find((w) => w !== i.recorded);
  if (other !== undefined) {
    return `${what}: its WWID is now ${other}, the array had WWID ${i.recorded}: another volume is mapped at that LUN number; ${kept}`;
  }
  return null;
}
