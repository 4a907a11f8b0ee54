/**
 * Where a subscription's REST hook may point. A practitioner picks the endpoint, and the node
 * POSTs to it, so an endpoint on the node's own network (loopback, private, link-local, cloud
 * metadata) would let any subscriber make the node call internal services (SSRF). Such targets
 * are refused when the subscription is created and again at every connection, by a DNS lookup
 * that refuses them, so a name that later resolves elsewhere (DNS rebinding) gains nothing. An
 * operator may allow named hosts (`CARECHAIN_HOOK_ALLOW`), for instance an internal
 * integration engine. https://owasp.org/www-community/attacks/Server_Side_Request_Forgery
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { BaseError } from "../errors/BaseError.js";

/** Address ranges no REST hook may reach (IANA special-purpose registries, IPv4 and IPv6). */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001::", 32],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  BLOCKED.addSubnet(network, prefix, "ipv6");
}

/**
 * True when `address` (an IP literal) is a public unicast address. IPv6 forms that carry an IPv4
 * address (mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by it;
 * Teredo (`2001::/32`) is refused.
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (BLOCKED.check(address, family === 4 ? "ipv4" : "ipv6")) return false;
  const inner = family === 6 ? embeddedIpv4(address) : undefined;
  return inner === undefined || isPublicAddress(inner);
}

/** The IPv4 address a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address carries, if any. */
function embeddedIpv4(address: string): string | undefined {
  const bytes = ipv6Bytes(address);
  if (bytes === undefined) return undefined;
  const nat64 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0].every((b, i) => bytes[i] === b);
  if (nat64) return bytes.slice(12, 16).join(".");
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return bytes.slice(2, 6).join(".");
  return undefined;
}

/** The 16 bytes of an IPv6 literal (with `::` and a dotted IPv4 tail), or undefined. */
function ipv6Bytes(address: string): number[] | undefined {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...(dotted[1] as string).split(".").map(Number));
    text = `${text.slice(0, dotted.index)}0:0`;
  }
  const [head = "", rest] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const zeros = 8 - left.length - right.length;
  if (rest === undefined ? zeros !== 0 : zeros < 0) return undefined;
  const groups = [...left, ...Array<string>(zeros).fill("0"), ...right].map((g) => Number.parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

const refused = (host: string): BaseError =>
  new BaseError("invalid", "endpoint must be a public address", {
    details: `${host} resolves to a loopback, private or reserved address`,
    expression: "endpoint",
  });

/** The REST-hook target policy of one node: public addresses, plus the hosts its operator allows. */
export class HookTargets {
  readonly #allow: Set<string>;

  /** @param allow - hosts (`name`, `name:port`, IP literals; IPv6 in brackets) allowed anywhere */
  constructor(allow: readonly string[] = []) {
    this.#allow = new Set(allow.map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0));
  }

  /** True when the operator allowed `url`'s host (with or without its port). */
  allows(url: URL): boolean {
    return this.#allow.has(url.host.toLowerCase()) || this.#allow.has(url.hostname.toLowerCase());
  }

  /**
   * The DNS lookup a connection to `url` must use: undefined when the host is allowed, else one
   * that fails for any address that is not public. An IP literal is never looked up, so it is
   * judged here.
   * @throws BaseError("invalid") for a literal address that is not public
   */
  lookupFor(url: URL): LookupFunction | undefined {
    if (this.allows(url)) return undefined;
    const literal = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(literal) !== 0 && !isPublicAddress(literal)) throw refused(url.host);
    const lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
      dnsLookup(
        hostname,
        { ...options, all: true } as LookupAllOptions,
        (error, addresses: LookupAddress[]) => {
          if (error) return callback(error, "", 0);
          const usable = addresses.filter((a) => isPublicAddress(a.address));
          if (usable.length === 0 || usable.length !== addresses.length)
            return callback(refused(hostname), "", 0);
          if (options.all) return (callback as unknown as AllCallback)(null, usable);
          const first = usable[0] as LookupAddress;
          callback(null, first.address, first.family);
        },
      );
    };
    return lookup as LookupFunction;
  }

  /**
   * Refuses `url` unless its host is allowed or resolves only to public addresses (checked when a
   * subscription is created; connections check again).
   * @throws BaseError("invalid") naming the endpoint
   */
  async check(url: URL): Promise<void> {
    if (this.allows(url)) return;
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    let addresses: LookupAddress[];
    try {
      addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(host, { all: true }, (error, found) => (error ? reject(error) : resolve(found))),
      );
    } catch (cause) {
      throw new BaseError("invalid", "endpoint host does not resolve", { expression: "endpoint", cause });
    }
    if (addresses.length === 0 || !addresses.every((a) => isPublicAddress(a.address)))
      throw refused(url.host);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string, family: number) => void;
type AllCallback = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;
