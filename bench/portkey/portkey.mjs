// portkey.mjs: starts Portkey's open-source AI gateway (npm
// @portkey-ai/gateway 1.15.2, its build/start-server.js, arguments passed
// on: --port=N --headless) for the gateway bench, with one fix so that its
// streamed answers work.
//
// The fix: @hono/node-server replaces the global Response with a
// lightweight class. When Portkey passes a stream on, it builds
// `new Response(stream, upstreamResponse)`; given a fetch() Response as
// its init, that class keeps the upstream response's own Headers object,
// which fetch made immutable, and Portkey's next step (updateHeaders:
// headers.append("x-portkey-...")) throws "TypeError: immutable": every
// streamed call answered 500 {"status":"failure"}. The Fetch standard
// copies init.headers into the new response; this shim does the same
// (status, statusText and a copy of the headers) before the lightweight
// class sees them. Nothing else of Portkey changes; whole answers never
// took this path (they are built from a parsed body).
const Native = globalThis.Response;
await import("./node_modules/@portkey-ai/gateway/build/start-server.js");
const Light = globalThis.Response;
if (Light === Native) {
  console.error("portkey.mjs: @hono/node-server did not replace Response; no fix installed");
} else {
  class Copied extends Light {
    constructor(body, init) {
      if (init instanceof Native && !(init instanceof Light))
        init = { status: init.status, statusText: init.statusText, headers: new Headers(init.headers) };
      super(body, init);
    }
  }
  Object.defineProperty(globalThis, "Response", { value: Copied, writable: true, configurable: true });
  console.error("portkey.mjs: streamed answers' headers copied (the fix for Portkey's TypeError: immutable)");
}
