// The official TypeScript SDK client against our /mcp: initialize, list the
// tools, call each one with arguments it accepts, and print what happened
// as one JSON line for t/10-mcp-clients.t.
//
//   node sdk-client.mjs http://127.0.0.1:PORT/mcp

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const prices = Array.from({ length: 60 }, (_, i) => 100 + 10 * Math.sin(i / 5) + i / 10);
const returns = prices.slice(1).map((p, i) => p / prices[i] - 1);

const args = {
  alpaca_market_stocks_bars: { symbol: "AAPL", limit: 5 },
  alpaca_market_stocks_snapshots: { symbols: ["MSFT"] },
  alpaca_market_screener_most_actives: { limit: 3 },
  alpaca_market_crypto_snapshots: { symbols: ["BTC/USD"] },
  alpaca_market_news: { symbols: ["NVDA"], limit: 2 },
  eodhd_fundamentals: { symbol: "MSFT" },
  eodhd_dividends: { symbol: "KO" },
  eodhd_splits: { symbol: "AAPL" },
  calculate_sma: { prices, period: 10 },
  calculate_ema: { prices, period: 10 },
  calculate_rsi: { prices, period: 14 },
  calculate_macd: { prices },
  calculate_bollinger_bands: { prices, period: 20 },
  calculate_atr: { high: prices.map((p) => p + 1), low: prices.map((p) => p - 1), close: prices, period: 14 },
  calculate_volatility: { returns },
  calculate_sharpe_ratio: { returns },
  calculate_sortino_ratio: { returns },
  calculate_max_drawdown: { prices },
  calculate_var: { returns, confidence: 0.95 },
  calculate_correlation_matrix: { price_series: { A: prices, B: prices.map((p, i) => p + Math.cos(i)) } },
  optimize_portfolio_weights: { expected_returns: [0.08, 0.1], cov_matrix: [[0.04, 0.01], [0.01, 0.09]] },
  calculate_portfolio_metrics: { weights: [0.5, 0.5], returns: [returns, returns.map((r) => r / 2)] },
  detect_sma_crossover: { prices, short_window: 5, long_window: 20 },
  detect_support_resistance: { prices, lookback: 3 },
  validate_python_script: { code: "result = 1\n" },
  check_mcp_calls: { code: "result = mcp_client.call('calculate_sma', {})\n" },
  estimate_runtime: { code: "result = 1\n" },
};

const client = new Client({ name: "qna-tests", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(process.argv[2])));

const { tools } = await client.listTools();
const calls = [];

for (const tool of tools) {
  const res = await client.callTool({ name: tool.name, arguments: args[tool.name] ?? {} });
  calls.push({ name: tool.name, isError: !!res.isError, structured: res.structuredContent !== undefined });
}

await client.close();
console.log(JSON.stringify({ tools: tools.length, calls }));
