// The official TypeScript SDK's MCP server (stateless Streamable HTTP),
// serving calculate_sma: the comparison point for bench/mcp, and an
// upstream server in the federation test (t/16), answering in JSON or,
// with "sse", in server-sent events.
//
//   node bench/mcp-sdk-server.mjs PORT [sse]

import http from "node:http";
import { McpServer } from "../t/mcp-clients/node_modules/@modelcontextprotocol/sdk/dist/esm/server/mcp.js";
import { StreamableHTTPServerTransport } from "../t/mcp-clients/node_modules/@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js";
import { z } from "../t/mcp-clients/node_modules/zod/index.js";

function newServer() {
  const server = new McpServer({ name: "sdk-bench", version: "1.0.0" });
  server.tool("calculate_sma", { prices: z.array(z.number()), period: z.number().int().min(1) },
    async ({ prices, period }) => {
      const values = [];
      let sum = 0;
      for (let i = 0; i < prices.length; i++) {
        sum += prices[i];
        if (i >= period) sum -= prices[i - period];
        if (i + 1 >= period) values.push(sum / period);
      }
      const out = { period, values, latest: values[values.length - 1], count: values.length };
      return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
    });
  return server;
}

http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", async () => {
    // stateless: a server and a transport per request, as the SDK shows
    const server = newServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: process.argv[3] !== "sse" });
    res.on("close", () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
  });
}).listen(Number(process.argv[2]), "127.0.0.1");
