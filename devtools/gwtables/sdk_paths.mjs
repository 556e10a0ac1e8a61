// sdk_paths.mjs: every request member the official SDKs' create-params
// types name, at every depth, as the gateway's tables spell a path
// (docs/gateway.md, "What the gateway forwards"): for each route, the
// members ("messages[].content[]{type=text}.text"), the variants of a
// discriminated union ("tools[]{type=web_search}"), the values of a closed
// enum ("service_tier=flex"), and for Anthropic the beta header's known
// values ("beta:fast-mode-2026-02-01"); and for each top-level member the
// JSON kinds its type allows and whether every create-params type of the
// route requires it ("json:messages=array required", "json:stop=string|
// array|null"). It reads the .d.ts files of the
// SDK packages installed under the directory given (npm's `openai` and
// `@anthropic-ai/sdk` at the versions tests/integration/sdk_pins.json
// pins) with the TypeScript compiler's own type checker, and prints one
// JSON object: {route: [path, ...]}.
//
// Test tooling only (tests/unit/test_gwtables.sh reads its output against
// the tables in src/gateway/tables/); never part of creditd.
//
// Usage: node sdk_paths.mjs NODE_PREFIX
import { createRequire } from "node:module";
import path from "node:path";

const prefix = process.argv[2];
if (!prefix) {
	console.error("usage: node sdk_paths.mjs NODE_PREFIX");
	process.exit(2);
}
const require = createRequire(path.join(prefix, "node_modules", "x.js"));
const ts = require("typescript");
const mod = (p) => path.join(prefix, "node_modules", p);

// route -> [file, interface], the interfaces whose members a body of the
// route may carry (Anthropic's beta types are a superset sent to the same
// path with the beta header).
const ROUTES = {
	"openai.chat": [["openai/resources/chat/completions/completions.d.ts", "ChatCompletionCreateParamsBase"]],
	"openai.responses": [["openai/resources/responses/responses.d.ts", "ResponseCreateParamsBase"]],
	"openai.embeddings": [["openai/resources/embeddings.d.ts", "EmbeddingCreateParams"]],
	"openai.speech": [["openai/resources/audio/speech.d.ts", "SpeechCreateParams"]],
	"openai.moderations": [["openai/resources/moderations.d.ts", "ModerationCreateParams"]],
	"openai.transcriptions": [["openai/resources/audio/transcriptions.d.ts", "TranscriptionCreateParamsBase"]],
	"openai.images_generations": [["openai/resources/images.d.ts", "ImageGenerateParamsBase"]],
	"openai.images_edits": [["openai/resources/images.d.ts", "ImageEditParamsBase"]],
	"anthropic.messages": [
		["@anthropic-ai/sdk/resources/messages/messages.d.ts", "MessageCreateParamsBase"],
		["@anthropic-ai/sdk/resources/beta/messages/messages.d.ts", "MessageCreateParamsBase"],
	],
	"anthropic.count_tokens": [
		["@anthropic-ai/sdk/resources/messages/messages.d.ts", "MessageCountTokensParams"],
		["@anthropic-ai/sdk/resources/beta/messages/messages.d.ts", "MessageCountTokensParams"],
	],
};
// Members the SDK sends as a header, not in the body.
const HEADER_MEMBERS = new Set(["betas"]);
// The discriminators a union's variants are told apart by, in order.
const DISCRIMINATORS = ["type", "role"];
// Deeper than this a path is not followed (no request type nests so).
const MAX_DEPTH = 16;

const files = [...new Set(Object.values(ROUTES).flat().map(([f]) => mod(f)))];
const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true });
const checker = program.getTypeChecker();

function findInterface(file, name) {
	const sf = program.getSourceFile(mod(file));
	if (!sf) throw new Error("no source file " + file);
	for (const st of sf.statements)
		if ((ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) && st.name.text === name)
			return checker.getTypeAtLocation(st.name);
	throw new Error("no type " + name + " in " + file);
}

const isNullish = (t) => (t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.Void)) !== 0;
const isStringLit = (t) => (t.flags & ts.TypeFlags.StringLiteral) !== 0;
const isOpenString = (t) => (t.flags & ts.TypeFlags.String) !== 0 ||
	// (string & {}): an open string that keeps the literals' completion
	((t.flags & ts.TypeFlags.Intersection) !== 0 && t.types.some((u) => (u.flags & ts.TypeFlags.String) !== 0));
const isOpaque = (t) => (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0;

function parts(t) {
	const out = [];
	const add = (u) => {
		if (u.isUnion()) u.types.forEach(add);
		else if (!isNullish(u)) out.push(u);
	};
	add(t);
	return out;
}

function arrayElement(t) {
	if (checker.isArrayType(t) || checker.isTupleType(t)) {
		const args = checker.getTypeArguments(t);
		return args.length ? (checker.isTupleType(t) ? args : [args[0]]) : null;
	}
	return null;
}

function isObject(t) {
	return (t.flags & ts.TypeFlags.Object) !== 0 || (t.flags & ts.TypeFlags.Intersection) !== 0;
}

// An object with an index signature and no named members (metadata,
// headers): any key, not walked.
function isRecord(t) {
	return (checker.getIndexInfosOfType(t).length > 0 && checker.getPropertiesOfType(t).length === 0);
}

function literalValues(t) {
	return parts(t).filter(isStringLit).map((u) => u.value);
}

function propType(sym) {
	const decl = sym.valueDeclaration || (sym.declarations && sym.declarations[0]);
	return checker.getTypeOfSymbolAtLocation(sym, decl);
}

// The discriminator of a set of object variants: a member every variant
// that has it gives as string literals, present in at least one.
function discriminatorOf(objs) {
	if (objs.length < 1) return null;
	for (const key of DISCRIMINATORS) {
		let seen = 0, ok = true;
		for (const o of objs) {
			const p = checker.getPropertyOfType(o, key);
			if (!p) continue;
			const vals = parts(propType(p));
			if (!vals.length || !vals.every(isStringLit)) { ok = false; break; }
			seen++;
		}
		if (ok && seen > 0 && objs.length > 1) return key;
	}
	return null;
}

function walk(t, p, out, stack, depth) {
	if (depth > MAX_DEPTH) return;
	const ps = parts(t);
	if (ps.some(isOpaque)) { out.add(p + "*"); return; }
	if (!ps.some(isOpenString))
		for (const v of literalValues(t)) out.add(p + "=" + v);
	const objs = [];
	for (const u of ps) {
		if (isOpenString(u)) continue;
		const el = arrayElement(u);
		if (el) {
			out.add(p + "[]");
			el.forEach((e) => walk(e, p + "[]", out, stack, depth + 1));
			continue;
		}
		if (isObject(u) && !checker.isArrayType(u) && (u.getCallSignatures().length === 0)) {
			if (isRecord(u)) { out.add(p + "*"); continue; }
			objs.push(u);
		}
	}
	if (!objs.length) return;
	const key = discriminatorOf(objs);
	for (const o of objs) {
		if (stack.includes(o)) { out.add(p + "*"); continue; }
		let nodes = [p];
		if (key) {
			const dp = checker.getPropertyOfType(o, key);
			if (dp) {
				nodes = literalValues(propType(dp)).map((v) => p + "{" + key + "=" + v + "}");
				if (dp.flags & ts.SymbolFlags.Optional) nodes.push(p);
			}
		}
		for (const n of nodes) {
			if (n !== p) out.add(n);
			for (const prop of checker.getPropertiesOfType(o)) {
				const name = prop.getName();
				if (key && name === key && n !== p) continue;
				if (depth === 0 && (HEADER_MEMBERS.has(name) || headerParam(prop))) continue;
				const child = (n === "" ? "" : n + ".") + name;
				out.add(child);
				walk(propType(prop), child, out, stack.concat([o]), depth + 1);
			}
		}
	}
}

// A member the SDK sends as a header ("Header param:" in its doc).
function headerParam(sym) {
	return ts.displayPartsToString(sym.getDocumentationComment(checker)).startsWith("Header param:");
}

function betas() {
	const t = findInterface("@anthropic-ai/sdk/resources/beta/beta.d.ts", "AnthropicBeta");
	return parts(t).filter(isStringLit).map((u) => "beta:" + u.value);
}

// ---- the top-level members' JSON kinds (docs/gateway.md, "What is
// checked before anything is forwarded") ----

// In the order the tables write them.
const KINDS = ["string", "number", "boolean", "array", "object", "null"];

// The JSON kinds a value of type t may have, a Set of KINDS. `T | null`
// allows null; `undefined` (an optional member) allows nothing more, it
// only may be absent; `unknown`, `any` and a type this does not know
// allow every kind (never refuse what the type may allow).
function kindsOf(t, out = new Set()) {
	const F = ts.TypeFlags;
	if (t.isUnion()) { t.types.forEach((u) => kindsOf(u, out)); return out; }
	// A type parameter (a transcription's ResponseFormat): its constraint.
	if (t.flags & F.TypeParameter) {
		const c = checker.getBaseConstraintOfType(t);
		return c && c !== t ? kindsOf(c, out) : (KINDS.forEach((k) => out.add(k)), out);
	}
	if (t.flags & (F.Undefined | F.Void | F.Never)) return out;
	if (t.flags & F.Null) out.add("null");
	else if (t.flags & (F.String | F.StringLiteral | F.TemplateLiteral | F.StringMapping)) out.add("string");
	else if (t.flags & (F.Number | F.NumberLiteral | F.Enum | F.EnumLiteral)) out.add("number");
	else if (t.flags & (F.Boolean | F.BooleanLiteral)) out.add("boolean");
	else if (isOpenString(t)) out.add("string");
	else if (checker.isArrayType(t) || checker.isTupleType(t)) out.add("array");
	else if (isObject(t) && t.getCallSignatures().length === 0) out.add("object");
	else KINDS.forEach((k) => out.add(k));
	return out;
}

// For each top-level member of a route: {kinds: Set, required: bool},
// required only when every type of the route requires it (a member one
// of them lacks may be absent).
function topMembers(types) {
	const out = new Map();
	types.forEach((t, i) => {
		for (const prop of checker.getPropertiesOfType(t)) {
			const name = prop.getName();
			if (HEADER_MEMBERS.has(name) || headerParam(prop)) continue;
			const m = out.get(name) || { kinds: new Set(), required: i === 0, seen: 0 };
			kindsOf(propType(prop), m.kinds);
			m.required = m.required && !(prop.flags & ts.SymbolFlags.Optional);
			m.seen++;
			out.set(name, m);
		}
	});
	const lines = [];
	for (const [name, m] of out) {
		const required = m.required && m.seen === types.length;
		lines.push("json:" + name + "=" + KINDS.filter((k) => m.kinds.has(k)).join("|") + (required ? " required" : ""));
	}
	return lines;
}

const result = {};
for (const [route, ifaces] of Object.entries(ROUTES)) {
	const out = new Set();
	for (const [file, name] of ifaces) walk(findInterface(file, name), "", out, [], 0);
	topMembers(ifaces.map(([file, name]) => findInterface(file, name))).forEach((l) => out.add(l));
	if (route.startsWith("anthropic.")) betas().forEach((b) => out.add(b));
	result[route] = [...out].sort();
}
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
