// What the DHCP server reports: one typed payload per event name, and the `Emitted`
// union an answer carries so the server emits exactly what the decision chose.
import type { MessageType } from "./codec/constants.js";
import type { ClientKind } from "./pxe.js";

/** Which of our sockets a request reached: the DHCP port or the proxyDHCP port (4011). */
export type Via = "server" | "proxy";

/** What every lease-related event carries. */
export interface DhcpClientInfo {
  mac: string;
  /** Address the client has or is offered. */
  ip?: string;
  hostname?: string;
  /** Client architecture (option 93), when sent. */
  arch?: number;
  kind: ClientKind;
  /** Boot file (loader, loader URL or script URL) in the reply, if any. */
  bootFile?: string;
  /** True when the address comes from the dynamic range. */
  dynamic?: boolean;
  /** Where the request came from (address:port). */
  from: string;
  via: Via;
}

export interface DhcpServerEvents {
  offer: [DhcpClientInfo];
  ack: [DhcpClientInfo];
  nak: [DhcpClientInfo & { reason: string }];
  /**
   * A message from a MAC without a reservation (node discovery). Without a dynamic
   * range it is otherwise ignored; with one the client is also leased an address.
   */
  seen: [DhcpClientInfo & { messageType: MessageType; vendorClass?: string }];
  release: [DhcpClientInfo];
  decline: [DhcpClientInfo];
  inform: [DhcpClientInfo];
  /** A datagram that is not a well-formed DHCP message; it changed nothing. */
  malformed: [{ from: string; error: string; bytes: number }];
}

export type DhcpEventName = keyof DhcpServerEvents;

/** The payload of one event. */
export type DhcpEventPayload<E extends DhcpEventName> = DhcpServerEvents[E][0];

/** One event with its payload, as an answer lists them. */
export type Emitted = { [E in DhcpEventName]: { event: E; payload: DhcpEventPayload<E> } }[DhcpEventName];
