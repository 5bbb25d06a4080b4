import type { Owner } from "../core/records";
import type { Deadline } from "../host/clock";
import type { Host } from "./host";
import type { Journal } from "./journal";

/**
 * What a step runs with. What the steps found (the legs, the array, the device) is in the
 * journal's record, the one store of it: a remove after a SIGKILL reads the same.
 */
export interface StepContext {
  readonly host: Host;
  readonly journal: Journal;
  readonly owner: Owner;
  readonly deadline: Deadline;
  /** The attachment's id and label, and whether the administrator confirmed a new local disk. */
  readonly id: string;
  readonly label: string | null;
  readonly confirmedLocal: boolean;
  /** Whether the local leg is rebuilt from the iSCSI leg (false without one: MISSING). */
  readonly localOverwritten: boolean;
}
