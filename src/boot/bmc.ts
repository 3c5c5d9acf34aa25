// The node's BMC LAN settings as ipmitool commands, run by the installer on the node
// itself (in-band: ipmi_si over KCS/SMIC/BT, /dev/ipmi0). The password never appears
// here: when the node has one, the installer fetches it from the token-protected API
// endpoint during the bmc step and sets it with `user set password`.
// Rendered for `ipmi` BMCs, and for `manual` ones that have an address: that is how a
// BMC whose credentials the head does not know yet (factory settings) is brought in —
// install once by hand with `driver: manual`, then switch the node to `ipmi`.
import type { BmcPrivilege, BmcSettings } from "../config/types.js";
import type { PlanBmc } from "./plan-types.js";

/** LAN channel 1 and user id 2 are the common defaults of server BMCs. */
export const BMC_CHANNEL = 1;
export const BMC_USER_ID = 2;

/** IPMI privilege level numbers (IPMI 2.0 table 22-28), as `channel setaccess privilege=` takes them. */
const PRIVILEGE_LEVEL: Record<BmcPrivilege, number> = { user: 2, operator: 3, administrator: 4 };

export function renderBmc(bmc: BmcSettings | undefined): PlanBmc | undefined {
  if (!bmc?.address || (bmc.driver !== "ipmi" && bmc.driver !== "manual")) return undefined;
  const channel = bmc.channel ?? BMC_CHANNEL;
  const commands = lanCommands(String(channel), bmc.address, bmc);
  const out: PlanBmc = { channel, commands };
  if (bmc.user) {
    const uid = bmc.userId ?? BMC_USER_ID;
    commands.push(...userCommands(String(channel), String(uid), { user: bmc.user, privilege: bmc.privilege ?? "administrator" }));
    if (bmc.password) out.passwordUserId = uid;
  }
  return out;
}

/** The LAN channel's address, netmask, gateway and VLAN, then IPMI over LAN switched on. */
function lanCommands(ch: string, address: string, bmc: BmcSettings): string[][] {
  const commands: string[][] = [
    ["lan", "set", ch, "ipsrc", "static"],
    ["lan", "set", ch, "ipaddr", address],
  ];
  if (bmc.netmask) commands.push(["lan", "set", ch, "netmask", bmc.netmask]);
  if (bmc.gateway) commands.push(["lan", "set", ch, "defgw", "ipaddr", bmc.gateway]);
  if (bmc.vlan !== undefined) commands.push(["lan", "set", ch, "vlan", "id", String(bmc.vlan)]);
  commands.push(["lan", "set", ch, "access", "on"]);
  return commands;
}

/** The user's name in its slot, its access and privilege on the channel, enabled. */
function userCommands(ch: string, uid: string, u: { user: string; privilege: BmcPrivilege }): string[][] {
  return [
    ["user", "set", "name", uid, u.user],
    ["channel", "setaccess", ch, uid, "link=on", "ipmi=on", "callin=on", `privilege=${PRIVILEGE_LEVEL[u.privilege]}`],
    ["user", "enable", uid],
  ];
}
