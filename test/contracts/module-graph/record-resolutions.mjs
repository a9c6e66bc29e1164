// Module hooks (node:module register) that report every URL the loader resolves, to the port given at
// registration: how test/contracts/module-graph.test.ts sees what importing a package loads.
let port;
export async function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  port.postMessage(resolved.url);
  return resolved;
}
