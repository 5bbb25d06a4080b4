/**
 * Judges /etc/iscsi/initiatorname.iscsi: null when it names this host, else what is wrong. Debian's
 * open-iscsi generates iqn.1993-08.org.debian:01:<random> on first start (GenerateName=yes before);
 * hosts cloned from one image then share that name, and a filer cannot tell them apart.
 */
export function initiatorProblem(text: string | null): string | null {
  if (text === null) return "missing: iscsid needs an initiator name (InitiatorName=iqn....)";
  const line = text.split("\n").find((l) => /^\s*InitiatorName\s*=/.test(l));
  if (!line) {
    return /GenerateName\s*=\s*yes/.test(text)
      ? "no name yet (GenerateName=yes): iscsid will generate one; give this host its own"
      : "no InitiatorName= line";
  }
  const name = line.split("=")[1]?.trim() ?? "";
  if (/^iqn\.(1993-08\.org\.debian|2004-10\.com\.ubuntu|1994-05\.com\.redhat):01:[0-9a-f]+$/.test(name)) {
    return `${name} is the name the distribution generated; if this host was cloned from an image, others share it: give each host its own`;
  }
  return null;
}
