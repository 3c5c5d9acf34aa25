// What the TFTP server reports: one typed payload per event name.
import type { TransferRemote } from "./transfer.js";

export interface TftpTransferStartEvent {
  id: number;
  path: string;
  remote: TransferRemote;
  /** Bytes the client will receive. */
  size: number;
  blksize: number;
  windowsize: number;
  virtual: boolean;
}

export interface TftpTransferCompleteEvent {
  id: number;
  path: string;
  remote: TransferRemote;
  bytes: number;
  ms: number;
  retransmits: number;
}

export interface TftpTransferErrorEvent {
  /** Undefined when the request was refused before a transfer began. */
  id: number | undefined;
  path: string;
  remote: TransferRemote;
  /** TFTP error code sent to the client, when one was sent for a refused request. */
  code: number | undefined;
  reason: string;
  bytes: number;
}

export interface TftpServerEvents {
  "transfer-start": [TftpTransferStartEvent];
  "transfer-complete": [TftpTransferCompleteEvent];
  "transfer-error": [TftpTransferErrorEvent];
}
