// Reads perfdhcp's final report: per exchange (DISCOVER-OFFER, REQUEST-ACK) the
// packets sent, received and dropped, and the average round trip.
export interface PerfdhcpReport {
  sent: { discover: number; request: number };
  received: { offer: number; ack: number };
  drops: { discover: number; request: number };
  avgDelayMs: { discover: number; request: number };
}

export function parsePerfdhcp(out: string): PerfdhcpReport {
  const sections = out.split(/\*+Statistics for: /).slice(1);
  const pick = (sec: string | undefined, re: RegExp): number => {
    const m = sec?.match(re);
    return m ? Number(m[1]) : NaN;
  };
  const d = sections.find((s) => s.startsWith("DISCOVER-OFFER"));
  const r = sections.find((s) => s.startsWith("REQUEST-ACK"));
  return {
    sent: { discover: pick(d, /sent packets: (\d+)/), request: pick(r, /sent packets: (\d+)/) },
    received: { offer: pick(d, /received packets: (\d+)/), ack: pick(r, /received packets: (\d+)/) },
    drops: { discover: pick(d, /drops: (\d+)/), request: pick(r, /drops: (\d+)/) },
    avgDelayMs: { discover: pick(d, /avg delay: ([\d.]+) ms/), request: pick(r, /avg delay: ([\d.]+) ms/) },
  };
}
