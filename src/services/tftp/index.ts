// Public surface of the TFTP service.
export {
  TftpServer,
  type TftpServerOptions,
  type TftpFileProvider,
  type TftpRemote,
  type TftpServerEvents,
  type TftpTransferStartEvent,
  type TftpTransferCompleteEvent,
  type TftpTransferErrorEvent,
} from "./server.js";
export { decodePacket, encodePacket, ErrorCode, Opcode, type TftpPacket, type TftpOption } from "./packet.js";
export type { SendPath } from "./native.js";
