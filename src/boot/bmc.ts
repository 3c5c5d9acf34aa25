// The node's BMC LAN settings as ipmitool commands, run by the installer on the node
// itself (in-band, /dev/ipmi0). The password never appears here: when the node has
// one, the installer fetches it from the token-protected API endpoint at install time.
import type { BmcSettings } from "../config/types.js";
import type { PlanBmc } from "./plan-types.js";

/** LAN channel 1 and user id 2 are the common defaults of server BMCs. */
export const BMC_CHANNEL = 1;
export const BMC_USER_ID = 2;

export function renderBmc(bmc: BmcSettings | undefined): PlanBmc | undefined {
  if (!bmc || bmc.driver !== "ipmi" || !bmc.address) return undefined;
  const ch = String(BMC_CHANNEL);
  const commands: string[][] = [
    ["lan", "set", ch, "ipsrc", "static"],
    ["lan", "set", ch, "ipaddr", bmc.address],
  ];
  if (bmc.netmask) commands.push(["lan", "set", ch, "netmask", bmc.netmask]);
  if (bmc.gateway) commands.push(["lan", "set", ch, "defgw", "ipaddr", bmc.gateway]);
  commands.push(["lan", "set", ch, "access", "on"]);
  const out: PlanBmc = { channel: BMC_CHANNEL, commands };
  if (bmc.user) {
    const uid = String(BMC_USER_ID);
    commands.push(["user", "set", "name", uid, bmc.user]);
    commands.push(["channel", "setaccess", ch, uid, "link=on", "ipmi=on", "callin=on", "privilege=4"]);
    commands.push(["user", "enable", uid]);
    if (bmc.password) out.passwordUserId = BMC_USER_ID;
  }
  return out;
}
