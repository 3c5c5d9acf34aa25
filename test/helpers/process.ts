// Processes a test started or found: whether one still exists. Kept apart from the
// namespace helpers because database, daemon and CLI tests need it without namespaces.

/** Whether a process exists (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
