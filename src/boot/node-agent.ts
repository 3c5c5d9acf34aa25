// The node agent the installer puts into every installed system: a POSIX sh loop run
// by the static busybox the installer copies beside it (/usr/libexec/metalform/busybox),
// so it needs nothing from the image — Debian minbase has neither curl nor wget. It
// reports what the node runs (image digest, boot id, kernel, uptime, digests of the
// files metalform wrote) at every start, then polls the head for work; a failed call
// backs off (doubling up to a bound) and never ends the loop. HTTP goes through
// busybox nc with the request on stdin: the node credential is only ever an argument
// of printf, a shell builtin, never of a program (every user reads /proc/*/cmdline).
// Started by a systemd unit that orders itself after the network and before nothing
// (the boot never waits for it), or by a SysV/busybox rc script in the background.
// The protocol's head side: services/installer-api/agent-protocol.ts.
import type { PlanFile, PlanSymlink } from "./plan-types.js";
import { shQuote } from "./shell-quote.js";
import { IMAGE_DIGEST_FILE, NODE_CREDENTIAL_FILE } from "./up-reporter.js";

export const AGENT_DIR = "/usr/libexec/metalform";
/** The installer's static busybox, copied here by installer-init.sh (install_agent_busybox). */
export const AGENT_BUSYBOX = `${AGENT_DIR}/busybox`;
export const AGENT_SCRIPT = `${AGENT_DIR}/agent`;
export const AGENT_CONF = "/etc/metalform/agent.conf";
/** The paths of the files metalform wrote into the node, one a line: the agent reports their digests. */
export const MANAGED_FILES_LIST = "/etc/metalform/managed-files";
export const AGENT_UNIT = "/etc/systemd/system/metalform-agent.service";

export interface AgentTiming {
  /** Seconds between polls while the head answers. */
  intervalSeconds: number;
  /** Upper bound of the back-off while it does not. */
  maxBackoffSeconds: number;
}

export const DEFAULT_AGENT_TIMING: AgentTiming = { intervalSeconds: 30, maxBackoffSeconds: 60 };

/** The agent's settings: shell assignments it sources (values quoted by shQuote). */
export function renderAgentConf(apiUrl: string, timing: AgentTiming = DEFAULT_AGENT_TIMING): string {
  return [
    "# metalform node agent settings (written by the installer)",
    `api=${shQuote(apiUrl)}`,
    `interval=${Math.max(1, Math.round(timing.intervalSeconds))}`,
    `max_backoff=${Math.max(1, Math.round(timing.maxBackoffSeconds))}`,
    "",
  ].join("\n");
}

export function renderAgentScript(): string {
  return `#!/bin/sh
# metalform node agent: reports what this node runs, then polls the head for work.
BB=${AGENT_BUSYBOX}
[ -x "$BB" ] || BB=busybox
conf=\${MF_AGENT_CONF:-${AGENT_CONF}}
cred=\${MF_AGENT_CREDENTIAL:-${NODE_CREDENTIAL_FILE}}
image_file=\${MF_AGENT_IMAGE:-${IMAGE_DIGEST_FILE}}
managed=\${MF_AGENT_MANAGED:-${MANAGED_FILES_LIST}}
api=""
interval=30
max_backoff=60
# shellcheck disable=SC1090 # generated: quoted assignments only
. "$conf"

# METHOD ENDPOINT BODY: the response (status line, headers, body) on stdout.
request() {
	token=$($BB cat "$cred" 2>/dev/null)
	rest=\${api#http://}
	hostport=\${rest%%/*}
	host=\${hostport%:*}
	port=\${hostport##*:}
	[ "$port" = "$hostport" ] && port=80
	printf '%s /%s/%s HTTP/1.0\\r\\nHost: %s\\r\\nAuthorization: Bearer %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' \\
		"$1" "\${rest#*/}" "$2" "$hostport" "$token" "\${#3}" "$3" | $BB timeout 20 $BB nc "$host" "$port" 2>/dev/null | $BB tr -d '\\r'
}

status_of() { printf '%s\\n' "$1" | $BB head -n 1 | $BB cut -d ' ' -f 2; }
body_of() { printf '%s\\n' "$1" | $BB sed '1,/^$/d'; }

# {"path":"sha256",...} of the files metalform wrote ("missing" for one that is gone).
file_digests() {
	out=""
	[ -r "$managed" ] || return 0
	while read -r path; do
		[ -n "$path" ] || continue
		d=$($BB sha256sum "$path" 2>/dev/null | $BB cut -d ' ' -f 1)
		out="$out\${out:+,}\\"$path\\":\\"\${d:-missing}\\""
	done <"$managed"
	printf '%s' "$out"
}

# What the node runs (all of the report but its uptime): reported again when it changes.
what_runs() {
	printf '"image":"%s","bootId":"%s","kernel":"%s","files":{%s}' \\
		"$($BB cat "$image_file" 2>/dev/null)" "$($BB cat /proc/sys/kernel/random/boot_id)" "$($BB uname -r)" "$(file_digests)"
}

report() {
	runs=$(what_runs)
	uptime=$($BB cut -d ' ' -f 1 /proc/uptime | $BB cut -d . -f 1)
	[ "$(status_of "$(request POST agent "{$runs,\\"uptime\\":$uptime}")")" = 204 ] && sent=$runs
}

# ID STATUS MESSAGE: tells the head how a work item ended.
work_done() { request POST "done" "{\\"id\\":$1,\\"status\\":\\"$2\\",\\"message\\":\\"$3\\"}" >/dev/null; }

# One work item (id=, kind= lines). Kinds this agent does not know are answered failed,
# so a newer head can queue them without harm.
run_work() {
	id=""
	kind=""
	while IFS='=' read -r k v; do
		case "$k" in id) id=$v ;; kind) kind=$v ;; esac
	done <<EOF
$1
EOF
	case "$id" in '' | *[!0-9]*) return 1 ;; esac
	case "$kind" in
	report) if report; then work_done "$id" ok ""; else work_done "$id" failed "report refused"; fi ;;
	*) work_done "$id" failed "unknown kind" ;;
	esac
}

# One poll: true when the head answered (work or none).
poll() {
	resp=$(request GET work "")
	case "$(status_of "$resp")" in
	204) return 0 ;;
	200) run_work "$(body_of "$resp")" ;;
	*) return 1 ;;
	esac
}

delay=1
sent=""
while :; do
	# At start, and whenever what the node runs changed (a file edited by hand, a live update).
	if [ "$sent" != "$(what_runs)" ]; then report || sent=""; fi
	if [ -n "$sent" ] && poll; then
		delay=1
		$BB sleep "$interval"
	else
		# The head is down, restarting or refusing: back off, doubling up to max_backoff.
		$BB sleep "$delay"
		delay=$((delay * 2))
		[ "$delay" -le "$max_backoff" ] || delay=$max_backoff
	fi
done
`;
}

/** The agent, its settings, its systemd unit and SysV script, and the list of managed files. */
export function nodeAgentFiles(apiUrl: string, managed: readonly string[], timing: AgentTiming = DEFAULT_AGENT_TIMING): { files: PlanFile[]; symlinks: PlanSymlink[] } {
  return {
    files: [
      { path: AGENT_CONF, mode: "0600", content: renderAgentConf(apiUrl, timing) },
      { path: AGENT_SCRIPT, mode: "0755", content: renderAgentScript() },
      { path: MANAGED_FILES_LIST, mode: "0644", content: [...managed, MANAGED_FILES_LIST].join("\n") + "\n" },
      {
        path: "/etc/init.d/S99metalform-agent",
        mode: "0755",
        content: `#!/bin/sh\n# metalform: the node agent, in the background so boot never waits for the head node.\ncase "\${1:-start}" in start) ${AGENT_BUSYBOX} sh ${AGENT_SCRIPT} >/dev/null 2>&1 </dev/null & ;; esac\nexit 0\n`,
      },
      {
        path: AGENT_UNIT,
        mode: "0644",
        // Type=simple and no Before=: nothing in the boot waits for the agent.
        content:
          "[Unit]\nDescription=metalform node agent\nWants=network-online.target\nAfter=network-online.target\n\n" +
          `[Service]\nType=simple\nExecStart=${AGENT_BUSYBOX} sh ${AGENT_SCRIPT}\nRestart=always\nRestartSec=10\n\n[Install]\nWantedBy=multi-user.target\n`,
      },
    ],
    symlinks: [{ path: "/etc/systemd/system/multi-user.target.wants/metalform-agent.service", target: AGENT_UNIT }],
  };
}
