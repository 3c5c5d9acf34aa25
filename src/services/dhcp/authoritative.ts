// Authoritative mode: the answer to a request on the DHCP port, by message type
// (RFC 2131 §4.3). Reserved MACs get their fixed address; others, with a dynamic
// range, one from the pool; without one they are only reported as `seen`.
import { FLAG_BROADCAST, MessageType } from "./codec/constants.js";
import { ipToInt, ZERO_IP } from "./codec/ip4.js";
import type { DhcpOptions } from "./codec/options.js";
import { clientMac } from "./codec/packet.js";
import {
  bootFor,
  clientInfo,
  discoveryNotes,
  ignored,
  networkOptions,
  replyPacket,
  seenEvents,
  type Answer,
  type AnswerContext,
  type Binding,
  type LeasePool,
  type Request,
} from "./answer.js";
import type { Emitted } from "./events.js";
import { replyTarget } from "./reply-address.js";

/** What one message-type handler gets: the request, its fixed binding if reserved, the pool. */
interface Case {
  r: Request;
  ctx: AnswerContext;
  mac: string;
  fixed: Binding | undefined;
  pool: LeasePool | undefined;
  /** No server identifier, or ours. */
  ours: boolean;
}

export function answerAuthoritative(r: Request, ctx: AnswerContext): Answer {
  const mac = clientMac(r.packet);
  const o = r.packet.options;
  const reserved = ctx.reservations.byMac.get(mac);
  if (!reserved && !ctx.pool) return ignored("unknown-mac", { mac }, seenEvents(r, ctx));
  const fixed: Binding | undefined = reserved ? { ip: reserved.ip, dynamic: false, ...(reserved.hostname !== undefined ? { hostname: reserved.hostname } : {}) } : undefined;
  // Discovery: every message from a MAC without a reservation is reported, leased or not.
  const seen = reserved ? [] : seenEvents(r, ctx);
  const ours = o.serverId === undefined || o.serverId === ctx.config.serverAddress;
  const c: Case = { r, ctx, mac, fixed, pool: ctx.pool, ours };
  const answer = byType(c);
  answer.events.unshift(...seen);
  if (!reserved) answer.notes.unshift(...discoveryNotes(r, ctx));
  return answer;
}

function byType(c: Case): Answer {
  const type = c.r.packet.options.messageType!;
  switch (type) {
    case MessageType.DISCOVER:
      return discover(c);
    case MessageType.REQUEST:
      return request(c);
    case MessageType.DECLINE:
      return decline(c);
    case MessageType.RELEASE:
      return release(c);
    case MessageType.INFORM:
      if (c.r.packet.ciaddr === ZERO_IP) return ignored("inform-without-ciaddr", { mac: c.mac });
      return lease(c, MessageType.ACK, { ip: c.r.packet.ciaddr, dynamic: !c.fixed }, { inform: true });
    default:
      return ignored("server-message-type", { mac: c.mac, type });
  }
}

function discover(c: Case): Answer {
  if (c.fixed) return lease(c, MessageType.OFFER, c.fixed);
  const ip = c.pool!.offer(c.mac, c.r.packet.options.requestedAddress);
  if (!ip) return { ...ignored("pool-exhausted", { mac: c.mac }), notes: [{ level: "warn", message: "pool-exhausted", fields: { mac: c.mac } }] };
  return lease(c, MessageType.OFFER, { ip, dynamic: true });
}

function request(c: Case): Answer {
  const { packet } = c.r;
  const o = packet.options;
  if (!c.ours) {
    // The client chose another server (RFC 2131 §4.3.2): leave it alone, and free the
    // address we offered it.
    if (!c.fixed) c.pool!.cancelOffer(c.mac);
    return ignored("other-server", { mac: c.mac, serverId: o.serverId });
  }
  const requested = o.requestedAddress ?? (packet.ciaddr !== ZERO_IP ? packet.ciaddr : undefined);
  if (!requested) return ignored("no-address-requested", { mac: c.mac });
  if (c.fixed) {
    if (requested === c.fixed.ip) return lease(c, MessageType.ACK, c.fixed);
    return nak(c, `requested ${requested}, reserved ${c.fixed.ip}`);
  }
  const pool = c.pool!;
  const selecting = o.serverId !== undefined;
  if (!selecting && !pool.get(c.mac) && !pool.inRange(requested)) {
    // INIT-REBOOT or RENEWING with an address from elsewhere.
    if (!inSubnet(requested, c.ctx)) return nak(c, `${requested} is not on this network`);
    return ignored("no-record", { mac: c.mac, requested });
  }
  if (pool.bind(c.mac, requested, c.ctx.config.leaseTime)) return lease(c, MessageType.ACK, { ip: requested, dynamic: true });
  return nak(c, `${requested} is not available`);
}

function decline(c: Case): Answer {
  if (!c.ours) return ignored("other-server", { mac: c.mac });
  const ip = c.r.packet.options.requestedAddress ?? "";
  const notes: Answer["notes"] = [];
  if (c.fixed) notes.push({ level: "warn", message: "reserved-address-declined", fields: { mac: c.mac, ip, hint: "another host uses this address" } });
  else if (ip) c.pool!.decline(c.mac, ip);
  return { events: [{ event: "decline", payload: clientInfo(c.r, { ip, dynamic: !c.fixed }) }], notes };
}

function release(c: Case): Answer {
  if (!c.ours) return ignored("other-server", { mac: c.mac });
  const ip = c.r.packet.ciaddr;
  if (!c.fixed) c.pool!.release(c.mac, ip);
  return { events: [{ event: "release", payload: clientInfo(c.r, { ip, dynamic: !c.fixed }) }], notes: [] };
}

function inSubnet(ip: string, ctx: AnswerContext): boolean {
  const mask = ipToInt(ctx.config.subnetMask);
  return ((ipToInt(ip) ^ ipToInt(ctx.config.serverAddress)) & mask) === 0;
}

/** An OFFER or ACK (also the ACK to an INFORM, which carries no address or lease times). */
function lease(c: Case, type: MessageType.OFFER | MessageType.ACK, b: Binding, opts: { inform?: boolean } = {}): Answer {
  const { packet } = c.r;
  const config = c.ctx.config;
  const boot = bootFor(c.r, b.ip, config);
  const options: DhcpOptions = { ...boot?.options, messageType: type, serverId: config.serverAddress };
  // RFC 6842: echo the client identifier.
  if (packet.options.clientId) options.clientId = packet.options.clientId;
  if (!opts.inform) {
    options.leaseTime = config.leaseTime;
    options.renewalTime = Math.floor(config.leaseTime / 2);
    options.rebindingTime = Math.floor((config.leaseTime * 7) / 8);
  }
  Object.assign(options, networkOptions(config));
  if (b.hostname !== undefined) options.hostname = b.hostname;
  const reply = replyPacket(packet, type, {
    yiaddr: opts.inform ? ZERO_IP : b.ip,
    ciaddr: type === MessageType.ACK ? packet.ciaddr : ZERO_IP,
    boot,
    options,
  });
  const event = opts.inform ? "inform" : type === MessageType.OFFER ? "offer" : "ack";
  const counts = opts.inform ? undefined : type === MessageType.OFFER ? "offers" : "acks";
  const events: Emitted[] = c.ctx.wants(event) ? [{ event, payload: clientInfo(c.r, b, boot) }] : [];
  return { reply: { packet: reply, to: replyTarget(packet, type, config.ports), ...(counts ? { counts } : {}) }, events, notes: [] };
}

function nak(c: Case, reason: string): Answer {
  const { packet } = c.r;
  const reply = replyPacket(packet, MessageType.NAK, {
    yiaddr: ZERO_IP,
    ciaddr: ZERO_IP,
    options: {
      messageType: MessageType.NAK,
      serverId: c.ctx.config.serverAddress,
      message: reason,
      ...(packet.options.clientId ? { clientId: packet.options.clientId } : {}),
    },
  });
  // RFC 2131 §4.1: a NAK through a relay asks it to broadcast.
  if (packet.giaddr !== ZERO_IP) reply.flags |= FLAG_BROADCAST;
  const info = clientInfo(c.r);
  if (packet.options.requestedAddress) info.ip = packet.options.requestedAddress;
  return {
    reply: { packet: reply, to: replyTarget(packet, MessageType.NAK, c.ctx.config.ports), counts: "naks" },
    events: [{ event: "nak", payload: { ...info, reason } }],
    notes: [{ level: "info", message: "nak", fields: { mac: c.mac, reason } }],
  };
}
