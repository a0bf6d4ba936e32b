// Replays recorded chat-completions exchanges through real Node clients: openai-node's
// chat.completions.create / .stream() (ChatCompletionStream) and the Vercel AI SDK's
// @ai-sdk/openai-compatible with generateText / streamText. Nothing goes over the network:
// each client gets a custom `fetch` that answers with the recorded status, headers and bytes.
//
// Protocol (conformance/clients reads it; keep both sides in step):
//   stdin:  JSON Lines, one per exchange:
//           {"id", "stream": bool, "request": object|null, "status": int,
//            "headers": [[name, value], ...], "body_b64": str}
//   stdout: JSON Lines, one per (exchange, client, mode):
//           {"id", "client": "openai-node"|"ai-sdk", "version", "mode", "ok": bool,
//            "error": null|{"type", "message"}, "reading": null|{"choices": [...], "usage": ...}}
//   A client that throws, or reports an error part, is ok: false with the error; the exit
//   code is 0 unless the runner itself broke.
import { readFileSync } from "node:fs";
import os from "node:os";
import readline from "node:readline";

// The runner yields the CPU to the run it reads (the lowest priority), from before the
// clients load: it works on the core the run leaves idle, and never slows the run.
os.setPriority(19);
const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
const { generateText, jsonSchema, streamText, tool } = await import("ai");
const { default: OpenAI } = await import("openai");

function installedVersion(name) {
  const manifest = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(manifest, "utf8")).version;
}
const VERSIONS = { "openai-node": installedVersion("openai"), "ai-sdk": installedVersion("ai") };
const BASE_URL = "http://replay.invalid/v1";
// A client that does not finish reading bytes it holds in memory: the runner says so as a
// ReplayTimeout, which the suite takes as inconclusive, never as a break (this runner works
// at the lowest priority, so on a loaded machine wall time is no measure of the client).
const PER_CLIENT_MS = 20000;
class ReplayTimeout extends Error {}

function recordedFetch(exchange) {
  const body = Buffer.from(exchange.body_b64, "base64");
  return async () => {
    const headers = new Headers();
    for (const [name, value] of exchange.headers) {
      try {
        headers.append(name, value);
      } catch {
        // a header the endpoint sent that fetch refuses to carry: the client never sees it
      }
    }
    const nullBody = [101, 204, 205, 304].includes(exchange.status);
    return new Response(nullBody ? null : body, { status: exchange.status, headers });
  };
}

function describe(error) {
  const name = (error && (error.constructor?.name || error.name)) || typeof error;
  let message = error && error.message !== undefined ? String(error.message) : String(error);
  if (message.length > 500) message = `${message.slice(0, 500)}...`;
  return { type: name, message };
}

function withTimeout(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new ReplayTimeout(`the client did not finish within ${PER_CLIENT_MS} ms`)),
      PER_CLIENT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function baseRequest(exchange) {
  const request =
    exchange.request && typeof exchange.request === "object" && !Array.isArray(exchange.request)
      ? { ...exchange.request }
      : {};
  if (typeof request.model !== "string") request.model = "replay";
  if (!Array.isArray(request.messages)) request.messages = [{ role: "user", content: "hi" }];
  return request;
}

function str(value) {
  return typeof value === "string" ? value : value === undefined || value === null ? null : String(value);
}

function openaiUsage(usage) {
  if (!usage || typeof usage !== "object") return null;
  return {
    prompt_tokens: usage.prompt_tokens ?? null,
    completion_tokens: usage.completion_tokens ?? null,
    total_tokens: usage.total_tokens ?? null,
  };
}

function openaiReading(completion) {
  const choices = (completion?.choices ?? []).map((choice, position) => {
    const message = choice?.message ?? {};
    const toolCalls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    const logprobs = choice?.logprobs?.content;
    return {
      index: typeof choice?.index === "number" ? choice.index : position,
      role: str(message.role),
      content: str(message.content),
      refusal: str(message.refusal),
      // openai-node types no reasoning field: its stream helper keeps only the last
      // fragment of an untyped delta field, so it does not expose reasoning (null).
      reasoning: null,
      tool_calls: toolCalls.map((call) => ({
        id: str(call?.id),
        name: str(call?.function?.name),
        arguments: str(call?.function?.arguments),
      })),
      finish_reason: str(choice?.finish_reason),
      logprobs: Array.isArray(logprobs) ? logprobs.map((entry) => str(entry?.token)) : null,
    };
  });
  return { choices, usage: openaiUsage(completion?.usage) };
}

async function openaiNode(exchange) {
  const client = new OpenAI({
    apiKey: "replay",
    baseURL: BASE_URL,
    fetch: recordedFetch(exchange),
    maxRetries: 0,
  });
  const request = baseRequest(exchange);
  if (exchange.stream) {
    delete request.stream;
    const stream = client.chat.completions.stream(request);
    return openaiReading(await stream.finalChatCompletion());
  }
  request.stream = false;
  return openaiReading(await client.chat.completions.create(request));
}

const FINISH = { "tool-calls": "tool_calls", "content-filter": "content_filter" };

function sdkTools(request) {
  const tools = {};
  for (const entry of Array.isArray(request.tools) ? request.tools : []) {
    const fn = entry?.function;
    if (!fn || typeof fn.name !== "string") continue;
    const parameters =
      fn.parameters && typeof fn.parameters === "object" ? fn.parameters : { type: "object" };
    tools[fn.name] = tool({ description: fn.description, inputSchema: jsonSchema(parameters) });
  }
  return Object.keys(tools).length ? tools : undefined;
}

function sdkArguments(call) {
  if (typeof call.input === "string") return call.input;
  return call.input === undefined ? null : JSON.stringify(call.input);
}

function sdkUsage(usage) {
  const counts = [usage?.inputTokens, usage?.outputTokens, usage?.totalTokens];
  if (counts.every((count) => count === undefined || count === null)) return null;
  return {
    prompt_tokens: usage.inputTokens ?? null,
    completion_tokens: usage.outputTokens ?? null,
    total_tokens: usage.totalTokens ?? null,
  };
}

function sdkReading({ text, reasoning, toolCalls, finishReason, usage }) {
  return {
    choices: [
      {
        index: 0,
        role: null,
        content: text,
        refusal: null,
        reasoning: reasoning || null,
        tool_calls: toolCalls.map((call) => ({
          id: str(call.toolCallId),
          name: str(call.toolName),
          arguments: sdkArguments(call),
        })),
        finish_reason: finishReason ? (FINISH[finishReason] ?? finishReason) : null,
        logprobs: null,
      },
    ],
    usage: sdkUsage(usage),
  };
}

function sdkModel(exchange, request) {
  const provider = createOpenAICompatible({
    name: "replay",
    baseURL: BASE_URL,
    apiKey: "replay",
    fetch: recordedFetch(exchange),
    includeUsage: true,
  });
  return provider.chatModel(request.model);
}

function sdkArgs(exchange) {
  const request = baseRequest(exchange);
  // The AI SDK builds its own request from these; the answer is the recorded one whatever it
  // sends. The messages are given as one prompt: the replay judges the reading, not the request.
  return {
    model: sdkModel(exchange, request),
    prompt: "replay",
    tools: sdkTools(request),
    maxRetries: 0,
  };
}

// A call the SDK could not parse (arguments cut by max_tokens, an undeclared tool) is kept as
// an invalid call with its raw input: the reading says what it holds, as the bytes do, and
// the comparison with the suite's reading decides whether anything was lost. Its tool-error
// part is the same fact again, not a failure of the client.
function invalid(calls, part) {
  return calls.some((call) => call.invalid && call.toolCallId === part.toolCallId);
}

async function aiSdk(exchange) {
  if (exchange.stream) {
    let failure = null;
    let text = "";
    let reasoning = "";
    const toolCalls = [];
    let finishReason = null;
    let usage = null;
    const result = streamText({
      ...sdkArgs(exchange),
      onError: ({ error }) => {
        failure ??= error;
      },
    });
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") text += part.text ?? "";
      else if (part.type === "reasoning-delta") reasoning += part.text ?? "";
      else if (part.type === "tool-call") toolCalls.push(part);
      else if (part.type === "tool-error" && !invalid(toolCalls, part)) failure ??= part.error;
      else if (part.type === "error") failure ??= part.error;
      else if (part.type === "finish") {
        finishReason = part.finishReason;
        usage = part.totalUsage;
      }
    }
    if (failure) throw failure;
    return sdkReading({ text, reasoning, toolCalls, finishReason, usage });
  }
  const result = await generateText(sdkArgs(exchange));
  const calls = (result.content ?? []).filter((part) => part.type === "tool-call");
  for (const part of result.content ?? []) {
    if (part.type === "tool-error" && !invalid(calls, part)) throw part.error;
  }
  return sdkReading({
    text: result.text,
    reasoning: result.reasoningText,
    toolCalls: calls,
    finishReason: result.finishReason,
    usage: result.usage,
  });
}

const CLIENTS = [
  { client: "openai-node", mode: (stream) => (stream ? "stream" : "create"), read: openaiNode },
  { client: "ai-sdk", mode: (stream) => (stream ? "streamText" : "generateText"), read: aiSdk },
];

async function replay(exchange) {
  const lines = [];
  for (const { client, mode, read } of CLIENTS) {
    const line = {
      id: exchange.id,
      client,
      version: VERSIONS[client],
      mode: mode(Boolean(exchange.stream)),
      ok: true,
      error: null,
      reading: null,
    };
    try {
      line.reading = await withTimeout(read(exchange));
    } catch (error) {
      line.ok = false;
      line.error = describe(error);
    }
    lines.push(JSON.stringify(line));
  }
  return lines;
}

async function main() {
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const raw of input) {
    if (!raw.trim()) continue;
    const exchange = JSON.parse(raw);
    for (const line of await replay(exchange)) process.stdout.write(`${line}\n`);
  }
}

// Clients may log their own warnings; they go to stderr, never into the protocol.
console.log = (...args) => console.error(...args);
console.warn = (...args) => console.error(...args);
main().catch((error) => {
  process.stderr.write(`replay runner failed: ${describe(error).type}: ${describe(error).message}\n`);
  process.exit(1);
});
