import dns from 'node:dns';
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type buildConnector from 'undici/types/connector';

/**
 * Outbound network safety: a webhook may only reach public unicast addresses, on port 443 or a
 * port the operator allows. Names are resolved, checked, and the connection goes to the checked
 * address (the resolver result is what the socket uses), so a name that changes between the check
 * and the connection (DNS rebinding) cannot get through.
 */

export interface OutboundPolicy {
  /** Networks the operator opened, e.g. 127.0.0.1/32 for tests or 10.1.0.0/16 for an internal CRM. */
  allowNets: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  /** Host names the operator trusts whatever they resolve to. */
  allowHosts: Set<string>;
  /** Ports allowed besides 443; `any` allows every port. */
  allowPorts: Set<number> | 'any';
}

export const ALLOW_VARIABLE = 'HOOKFLOW_OUTBOUND_ALLOW';
export const PORTS_VARIABLE = 'HOOKFLOW_OUTBOUND_PORTS';

/** Parses the allowlist ("127.0.0.1/32, 10.1.0.0/16, crm.internal") and ports ("8443, 9443" or "*"). */
export function parsePolicy(allow: string | undefined, ports: string | undefined): OutboundPolicy {
  const policy: OutboundPolicy = { allowNets: [], allowHosts: new Set(), allowPorts: new Set() };
  for (const raw of (allow ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (raw.includes('/')) {
      try {
        policy.allowNets.push(ipaddr.parseCIDR(raw));
      } catch {
        throw new Error(`${ALLOW_VARIABLE}: "${raw}" is not a CIDR (e.g. 10.0.0.0/8)`);
      }
    } else if (ipaddr.isValid(raw)) {
      const addr = ipaddr.parse(raw);
      policy.allowNets.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[A-Za-z0-9.-]+$/.test(raw)) {
      policy.allowHosts.add(raw.toLowerCase());
    } else {
      throw new Error(`${ALLOW_VARIABLE}: "${raw}" is neither a CIDR, an address nor a host name`);
    }
  }
  const p = (ports ?? '').trim();
  if (p === '*') policy.allowPorts = 'any';
  else {
    for (const raw of p
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new Error(`${PORTS_VARIABLE}: "${raw}" is not a port`);
      (policy.allowPorts as Set<number>).add(n);
    }
  }
  return policy;
}

const RANGE_NAMES: Record<string, string> = {
  loopback: 'loopback',
  private: 'a private network (RFC 1918)',
  linkLocal: 'link-local (this includes cloud metadata services such as 169.254.169.254)',
  carrierGradeNat: 'carrier-grade NAT (RFC 6598)',
  multicast: 'multicast',
  unspecified: 'the unspecified address',
  broadcast: 'broadcast',
  reserved: 'a reserved range',
  uniqueLocal: 'an IPv6 unique-local network',
  ipv4Mapped: 'an IPv4-mapped IPv6 address',
  rfc6145: 'an IPv4-translated IPv6 address',
  rfc6052: 'an IPv4/IPv6 translation prefix',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  benchmarking: 'a benchmarking range',
  as112: 'an AS112 range',
  as112v6: 'an AS112 range',
  amt: 'an AMT range',
  deprecated: 'a deprecated range',
  orchid2: 'an ORCHIDv2 range',
  droneRemoteIdProtocolEntityTags: 'a reserved range',
};

export class BlockedDestinationError extends Error {
  override readonly name = 'BlockedDestinationError';
  readonly code = 'ERR_HOOKFLOW_BLOCKED_DESTINATION';
}

function allowedByNet(addr: ipaddr.IPv4 | ipaddr.IPv6, policy: OutboundPolicy): boolean {
  return policy.allowNets.some(([net, bits]) => addr.kind() === net.kind() && addr.match(net, bits));
}

/** Why an address may not be reached, or undefined when it may. IPv4-mapped forms are judged as IPv4. */
export function checkAddress(ip: string, policy: OutboundPolicy): string | undefined {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return `the address ${ip} is not valid`;
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (allowedByNet(addr, policy)) return undefined;
  const range = addr.range();
  if (range === 'unicast') return undefined;
  return `the address ${ip} is ${RANGE_NAMES[range] ?? `in the ${range} range`}, which webhooks may not reach; an operator can allow it with ${ALLOW_VARIABLE}`;
}

export function checkPort(port: number, policy: OutboundPolicy): string | undefined {
  if (port === 443 || policy.allowPorts === 'any' || policy.allowPorts.has(port)) return undefined;
  return `port ${port} is not allowed (only 443); an operator can allow it with ${PORTS_VARIABLE}`;
}

export type Resolver = (
  host: string,
  opts: dns.LookupAllOptions,
  cb: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

const systemResolver: Resolver = (host, opts, cb) => dns.lookup(host, opts, cb);

/** A `lookup` for sockets that resolves, refuses blocked addresses, and hands over only checked ones. */
export function safeLookup(policy: OutboundPolicy, resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const trusted = policy.allowHosts.has(hostname.toLowerCase());
    resolver(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      const cb = callback;
      if (err) return cb(err, '', 0);
      const allowed = trusted
        ? addresses
        : addresses.filter((a) => checkAddress(a.address, policy) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0];
        const why = first ? checkAddress(first.address, policy) : undefined;
        return cb(
          new BlockedDestinationError(`${hostname} resolves to a blocked address: ${why ?? 'no address'}`),
          '',
          0,
        );
      }
      if (options.all) return cb(null, allowed);
      return cb(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/**
 * Checks a URL's destination before anything is sent: the port, an address written in the URL, or
 * every address its name resolves to. DNS failures are not blocks (the live check reports them).
 */
export async function checkDestination(
  url: string,
  policy: OutboundPolicy,
  resolver: Resolver = systemResolver,
): Promise<string | undefined> {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : 443;
  const portProblem = checkPort(port, policy);
  if (portProblem) return portProblem;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) return checkAddress(host, policy);
  if (policy.allowHosts.has(host.toLowerCase())) return undefined;
  const addresses = await new Promise<dns.LookupAddress[]>((resolve) =>
    resolver(host, { all: true }, (err, list) => resolve(err ? [] : list)),
  );
  for (const a of addresses) {
    const why = checkAddress(a.address, policy);
    if (why) return `${host} resolves to a blocked address: ${why}`;
  }
  return undefined;
}

/** Wraps undici's connector: ports and literal addresses are checked here, names by {@link safeLookup}. */
export function guardConnector(
  connect: buildConnector.connector,
  policy: OutboundPolicy,
): buildConnector.connector {
  return (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === 'http:' ? 80 : 443);
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    const problem = checkPort(port, policy) ?? (net.isIP(host) ? checkAddress(host, policy) : undefined);
    if (problem) {
      callback(new BlockedDestinationError(problem), null);
      return;
    }
    connect(opts, callback);
  };
}
