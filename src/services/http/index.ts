// The HTTP boot service: what other layers import.
export { HttpBootServer, bootScriptPath, filePath, SCRIPT_PREFIX, FILES_PREFIX } from "./server.js";
export type { HttpBootServerOptions, HttpBootServerEvents, ScriptProvider } from "./server.js";
export { HttpError } from "./routes.js";
export type { HttpReply, RouteContext, RouteHandler } from "./routes.js";
export { bearerToken, generateToken, tokensEqual } from "./auth.js";
export { normalizeMac } from "./mac.js";
