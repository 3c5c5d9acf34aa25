// The UP reporter the installer puts into the installed system: on every boot it
// tells the head node "UP" and the digest of the image it runs, so `plan --refresh`
// sees drift. It is hooked into both init systems an image may have: a sysv/busybox
// rc script (/etc/init.d/S99metalform-up, run by rcS loops over /etc/init.d/S??*) and a
// systemd unit enabled through a wants symlink. It presents the node credential
// (services/installer-api/node-credentials.ts: long-lived, per node, new at every
// install, never an install credential), kept in its own file readable by root only.
import type { PlanFile, PlanSymlink } from "./plan-types.js";
import { shQuote } from "./shell-quote.js";

export const UP_SCRIPT = "/etc/metalform/report-up";
export const IMAGE_DIGEST_FILE = "/etc/metalform/image";
/** The node credential: root-only (0600), for the UP reporter and a future node agent. */
export const NODE_CREDENTIAL_FILE = "/etc/metalform/node-credential";

export function renderUpScript(apiUrl: string): string {
  return `#!/bin/sh
# metalform: report UP and the image digest to the head node (runs on every boot).
api=${shQuote(apiUrl)}
token=$(cat ${NODE_CREDENTIAL_FILE} 2>/dev/null)
image=$(cat ${IMAGE_DIGEST_FILE} 2>/dev/null)
body="{\\"image\\":\\"$image\\"}"
# The credential never goes on a command line (every user can read /proc/*/cmdline):
# curl reads it from its config on stdin; without curl, busybox nc gets the request on stdin.
post_curl() {
	printf 'header = "Authorization: Bearer %s"\\n' "$token" |
		curl -fsS -m 10 -o /dev/null -K - -H "Content-Type: application/json" --data "$body" "$api/up"
}
post_nc() {
	rest=\${api#http://}
	hostport=\${rest%%/*}
	host=\${hostport%:*}
	port=\${hostport##*:}
	[ "$port" = "$hostport" ] && port=80
	printf 'POST /%s/up HTTP/1.0\\r\\nHost: %s\\r\\nAuthorization: Bearer %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' \\
		"\${rest#*/}" "$hostport" "$token" "\${#body}" "$body" | timeout 10 nc "$host" "$port" 2>/dev/null | head -n 1 | grep -q ' 204 '
}
i=0
while [ "$i" -lt 10 ]; do
	if command -v curl >/dev/null 2>&1; then
		post_curl && exit 0
	elif command -v nc >/dev/null 2>&1; then
		post_nc && exit 0
	else
		exit 1
	fi
	i=$((i + 1))
	sleep 3
done
exit 1
`;
}

export function upReporterFiles(apiUrl: string, nodeCredential: string, imageDigest: string): { files: PlanFile[]; symlinks: PlanSymlink[] } {
  return {
    files: [
      { path: IMAGE_DIGEST_FILE, mode: "0644", content: imageDigest + "\n" },
      { path: NODE_CREDENTIAL_FILE, mode: "0600", content: nodeCredential + "\n" },
      { path: UP_SCRIPT, mode: "0700", content: renderUpScript(apiUrl) },
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
