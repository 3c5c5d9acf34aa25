// proxyDHCP mode (PXE 2.1): another server hands out addresses; this one only answers
// PXE clients and iPXE with boot information — an OFFER on the DHCP port, an ACK to
// the REQUEST (or INFORM) a client sends to port 4011.
import { MessageType } from "./codec/constants.js";
import { ZERO_IP } from "./codec/ip4.js";
import type { DhcpOptions } from "./codec/options.js";
import { clientMac } from "./codec/packet.js";
import { bootFor, clientInfo, discoveryNotes, ignored, replyPacket, seenEvents, type Answer, type AnswerContext, type Request } from "./answer.js";
import { clientKind, isPxeClient, pxeServerOptions } from "./pxe.js";
import { replyTarget, type ReplyTarget } from "./reply-address.js";

export function answerProxy(r: Request, ctx: AnswerContext): Answer {
  const { packet, via } = r;
  const o = packet.options;
  const mac = clientMac(packet);
  const type = o.messageType!;
  if (!isPxeClient(o) && clientKind(o) !== "ipxe") return ignored("not-pxe", { mac });
  const reserved = ctx.reservations.byMac.get(mac);
  // Discovery: an unknown PXE client gets boot information too (its script is the inventory's).
  if (!reserved && !ctx.discovery) return ignored("unknown-mac", { mac }, seenEvents(r, ctx));
  // On port 67 a proxy only offers; every REQUEST there is a lease request for the DHCP
  // server (which may even share our address when co-located). PXE clients ask a proxy
  // for boot information on port 4011.
  if (via === "server" && type !== MessageType.DISCOVER) return ignored("proxy-not-for-us", { mac, type });
  if (via === "proxy" && type !== MessageType.REQUEST && type !== MessageType.INFORM) return ignored("proxy-port-type", { mac, type });
  const replyType = via === "server" ? MessageType.OFFER : MessageType.ACK;
  const boot = bootFor(r, reserved?.ip, ctx.config);
  if (!boot) return ignored("no-boot-file", { mac, arch: o.clientArch?.[0] });
  // No iPXE 175/176 (no-pxedhcp) from a proxy: it would tell iPXE to skip the ProxyDHCP
  // request that fetches this very boot information.
  const { ipxe: _noPxeDhcp, ...bootOptions } = boot.options;
  const options: DhcpOptions = {
    ...bootOptions,
    messageType: replyType,
    serverId: ctx.config.serverAddress,
    // PXE firmware and iPXE (also without "PXEClient" in 60) need the PXE server marks;
    // a UEFI HTTP boot client keeps its "HTTPClient" echo.
    ...(clientKind(o) === "http" ? {} : pxeServerOptions()),
  };
  const reply = replyPacket(packet, replyType, {
    yiaddr: ZERO_IP,
    ciaddr: replyType === MessageType.ACK ? packet.ciaddr : ZERO_IP,
    boot,
    options,
  });
  const event = replyType === MessageType.OFFER ? "offer" : "ack";
  return {
    reply: { packet: reply, to: proxyTarget(r, replyType, ctx), counts: event === "offer" ? "offers" : "acks" },
    events: [...(reserved ? [] : seenEvents(r, ctx)), { event, payload: clientInfo(r, undefined, boot) }],
    notes: reserved ? [] : discoveryNotes(r, ctx),
  };
}

/** On the proxy port the client already has an address: answer where it asked from. */
function proxyTarget(r: Request, type: MessageType, ctx: AnswerContext): ReplyTarget {
  const { packet, source } = r;
  if (r.via === "proxy" && packet.giaddr === ZERO_IP && source.address !== ZERO_IP) return { address: source.address, port: source.port };
  return replyTarget(packet, type, ctx.config.ports);
}
