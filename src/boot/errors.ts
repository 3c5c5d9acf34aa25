/** A layout or node that cannot be turned into an install plan (a config error, not a bug). */
export class InstallPlanError extends Error {
  constructor(
    message: string,
    readonly node?: string,
  ) {
    super(node ? `${node}: ${message}` : message);
    this.name = "InstallPlanError";
  }
}
