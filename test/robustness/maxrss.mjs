// Runs the metalform CLI in this process and reports its peak resident memory on exit:
//   node maxrss.mjs ARGS...   → the CLI's output, then "MAXRSS_KIB n" on stderr.
process.on("exit", () => process.stderr.write(`\nMAXRSS_KIB ${process.resourceUsage().maxRSS}\n`));
process.argv = [process.argv[0], new URL("../../bin/metalform", import.meta.url).pathname, ...process.argv.slice(2)];
await import("../../dist/cli/main.js");
