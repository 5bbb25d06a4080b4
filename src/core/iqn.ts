/**
 * iSCSI names (RFC 3720 section 3.2.6, RFC 3721, RFC 3722 normalisation).
 * Only the characters the RFC allows get through: they end up on iscsiadm's command line.
 */
export const MAX_ISCSI_NAME = 223;

const LABEL = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
const IQN_RE = new RegExp(`^iqn\\.(\\d{4})-(\\d{2})\\.(${LABEL}(?:\\.${LABEL})*)(?::([a-z0-9.:-]+))?$`);
const EUI_RE = /^eui\.[0-9A-Fa-f]{16}$/;
const NAA_RE = /^naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})$/;

/** Returns null when NAME is a valid iSCSI name, else the reason it is not. */
export function iscsiNameProblem(name: string): string | null {
  if (name.length === 0) return "it is empty";
  if (name.length > MAX_ISCSI_NAME) return `it is longer than ${MAX_ISCSI_NAME} characters`;
  const lower = name.toLowerCase();
  if (lower.startsWith("eui.")) {
    return EUI_RE.test(name) ? null : "an eui. name is 'eui.' and 16 hex digits";
  }
  if (lower.startsWith("naa.")) {
    return NAA_RE.test(name) ? null : "a naa. name is 'naa.' and 16 or 32 hex digits";
  }
  if (!lower.startsWith("iqn.")) return "an iSCSI name starts with iqn., eui. or naa.";
  if (name !== lower) return "iSCSI names are lower case (RFC 3722); write it in lower case";
  const m = IQN_RE.exec(name);
  if (!m) {
    const bad = /[^a-z0-9.:-]/.exec(name);
    if (bad) return `character '${bad[0]}' is not allowed in an iSCSI name`;
    return "expected iqn.YYYY-MM.reversed.domain[:identifier]";
  }
  const month = Number(m[2]);
  if (month < 1 || month > 12) return `month '${m[2]}' is not 01 to 12`;
  return null;
}
