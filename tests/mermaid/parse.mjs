// Parse Mermaid text from stdin with the real mermaid parser; print its diagram type.
// Exit 0 when it parses, 1 with the parser's message (line number included) when it does not.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
try {
  const result = await mermaid.parse(text);
  console.log(JSON.stringify({ ok: true, type: result.diagramType }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error.message || error) }));
  process.exit(1);
}
