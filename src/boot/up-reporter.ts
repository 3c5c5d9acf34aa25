// The UP reporter the installer puts into the installed system: on every boot it
// tells the head node "UP" and the digest of the image it runs, so `plan --refresh`
// sees drift. It is hooked into both init systems an image may have: a sysv/busybox
// rc script (/etc/init.d/S99metalform-up, run by rcS loops over /etc/init.d/S??*) and a
// systemd unit enabled through a wants symlink. It holds the node's `up` token only
// (never the install token), readable by root only.
import type { PlanFile, PlanSymlink } from "./plan-types.js";
import { shQuote } from "./shell-quote.js";

export const UP_SCRIPT = "/etc/metalform/report-up";
export const IMAGE_DIGEST_FILE = "/etc/metalform/image";

export function renderUpScript(apiUrl: string, upToken: string): string {
  return `#!/bin/sh
# metalform: report UP and the image digest to the head node (runs on every boot).
api=${shQuote(apiUrl)}
token=${shQuote(upToken)}
image=$(cat ${IMAGE_DIGEST_FILE} 2>/dev/null)
body="{\\"image\\":\\"$image\\"}"
i=0
while [ "$i" -lt 10 ]; do
	if command -v wget >/dev/null 2>&1; then
		wget -q -O /dev/null --header "Authorization: Bearer $token" --header "Content-Type: application/json" --post-data "$body" "$api/up" && exit 0
	elif command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H "Content-Type: application/json" --data "$body" "$api/up" && exit 0
	else
		exit 1
	fi
	i=$((i + 1))
	sleep 3
done
exit 1
`;
}

export function upReporterFiles(apiUrl: string, upToken: string, imageDigest: string): { files: PlanFile[]; symlinks: PlanSymlink[] } {
  return {
    files: [
      { path: IMAGE_DIGEST_FILE, mode: "0644", content: imageDigest + "\n" },
      { path: UP_SCRIPT, mode: "0700", content: renderUpScript(apiUrl, upToken) },
      {
        path: "/etc/init.d/S99metalform-up",
        mode: "0755",
        content: `#!/bin/sh\n# metalform: report UP in the background so boot never waits for the head node.\ncase "\${1:-start}" in start) ${UP_SCRIPT} >/dev/null 2>&1 & ;; esac\nexit 0\n`,
      },
      {
        path: "/etc/systemd/system/metalform-up.service",
        mode: "0644",
        content: `[Unit]\nDescription=metalform: report UP to the head node\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=${UP_SCRIPT}\n\n[Install]\nWantedBy=multi-user.target\n`,
      },
    ],
    symlinks: [{ path: "/etc/systemd/system/multi-user.target.wants/metalform-up.service", target: "/etc/systemd/system/metalform-up.service" }],
  };
}
