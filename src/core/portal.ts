/** An iSCSI portal: `HOST[:PORT]`, HOST an IPv4 address, a bracketed IPv6 address or a DNS name. */
export interface Portal {
  readonly host: string;
  readonly port: number;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

export function parsePortal(text: string): Portal | string {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1] ?? "";
    portText = v6[2];
    if (!IPV6.test(host) || !host.includes(":")) return `'${host}' is not an IPv6 address`;
  } else {
    const parts = text.split(":");
    if (parts.length > 2) return "write an IPv6 portal in brackets: [ADDR]:PORT";
    host = parts[0] ?? "";
    portText = parts[1];
    if (!IPV4.test(host) && (/^[\d.]+$/.test(host) || !HOSTNAME.test(host))) return `'${host}' is not an IPv4 address or host name`;
  }
  let port = 3260;
  if (portText !== undefined) {
    if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535) return `port '${portText}' is not 1 to 65535`;
    port = Number(portText);
  }
  return { host, port };
}

export function formatPortal(p: Portal): string {
  return p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

/**
 * The portals of a target's node record files (`node.conn[0].address` and `.port`, as iscsiadm
 * writes them), in the form `iscsiadm -m node` prints; null when a record lacks either or holds a
 * value that is not a portal (then iscsiadm is asked).
 */
export function recordPortals(records: readonly Readonly<Record<string, string>>[]): string[] | null {
  if (records.length === 0) return null;
  const out = new Set<string>();
  for (const r of records) {
    const host = r["node.conn[0].address"];
    const port = r["node.conn[0].port"];
    if (host === undefined || port === undefined) return null;
    const p = parsePortal(host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
    if (typeof p === "string") return null;
    out.add(formatPortal(p));
  }
  return [...out];
}
