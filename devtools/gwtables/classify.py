#!/usr/bin/env python3
"""classify.py: writes src/gateway/tables/*.tsv from the SDKs' paths
(sdk_paths.mjs's output), each row classified by the rules below, which
say why, each top-level member's row with the JSON kinds the SDKs' types
allow and "required" where every create-params type of the table's
routes requires it (sdk_paths.mjs's "json:NAME=KINDS[ required]"
entries). Run once when a pin is raised, then review the diff by hand: the
table in the tree is the contract (docs/gateway.md, "What the gateway
forwards"); a row changed by hand stays changed only if the rules say
the same, so change a rule rather than a row.

Usage: classify.py PATHS.json OUTDIR"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compress import compress, trie  # noqa: E402

DOCS = {
    "openai.chat": "openai:chat/create",
    "openai.responses": "openai:responses/create",
    "openai.embeddings": "openai:embeddings/create",
    "openai.images_generations": "openai:images/create",
    "openai.images_edits": "openai:images/createEdit",
    "anthropic.messages": "anthropic:messages",
}

# Tools by their type (a prefix of it): what the provider does with them.
TOOLS = [
    # Run by the client; the provider bills their definition and calls as tokens.
    (r"^(custom|function|bash_|text_editor_|computer_20|computer_use_preview|computer$|memory_|local_shell|apply_patch|namespace)",
     "free"),
    (r"^web_search", "priced:web_search"),
    (r"^advisor_", "priced:tool_model"),
    # Run by the provider, billed apart, priced by no field creditd reads (or reading input the body does not hold).
    (r"^(web_fetch_|code_execution_|code_interpreter|tool_search|mcp|browser_toolset|computer_toolset|file_search|"
     r"image_generation|shell|programmatic_tool_calling)", "refused:a tool the provider runs and bills apart"),
]

TOP = {
    # Anthropic
    "anthropic.messages": {
        "max_tokens": "bound:output_cap", "speed": "free", "inference_geo": "priced:geo",
        "container": "bound:stored",
        "mcp_servers": "refused:MCP servers the provider calls",
        "fallbacks": "refused:another model the provider may run and bill",
        "fallback_credit_token": "refused:another model the provider may run and bill",
        "billing_policy": "refused:billing another party",
        "thread": "refused:a conversation stored at the provider",
        "compaction": "priced:compaction",
    },
    "openai.chat": {
        "max_tokens": "bound:output_cap", "max_completion_tokens": "bound:output_cap", "n": "bound:choices",
        "audio": "priced:audio", "web_search_options": "priced:web_search",
        "moderation": "refused:a moderation pass no price field prices",
    },
    "openai.responses": {
        "max_output_tokens": "bound:output_cap", "max_tool_calls": "bound:tool_calls",
        "previous_response_id": "bound:stored",
        "conversation": "bound:stored",
        "prompt": "bound:stored",
        "moderation": "refused:a moderation pass no price field prices",
    },
    "openai.embeddings": {},
    # Images (docs/gateway.md, "Images"): the images asked are the hold's
    # (n at the dearest size and quality); a stream's partial images are
    # billed apart and not taken.
    "openai.images_generations": {
        "n": "bound:images", "size": "bound:images", "quality": "bound:images",
        "partial_images": "refused:partial images are made in a stream, which creditd does not take on image calls",
    },
}
TOP["openai.images_edits"] = TOP["openai.images_generations"]

VALUES = [
    (r"(^|\.)speed=fast$", "priced:speed"),
    (r"(^|\.)service_tier=(auto|flex|priority|scale)$", "priced:tier"),
    (r"(^|\.)ttl=1h$", "priced:cache_1h"),
    (r"(^|\.)modalities\[\]=audio$", "priced:audio"),
    (r"(^|\.)search_context_size=", "priced:web_search"),
    (r"^background=?$", None),
]


def classify(route, node, owners=""):
    if node.startswith("beta:"):
        return beta(node[5:])
    top = re.split(r"[.\[{=*]", node)[0]
    # Responses' background run is held and settled when it ends
    # (docs/gateway.md, "Background responses"): free.
    if TOP[route].get(top, "").startswith("refused"):
        return TOP[route][top]
    for pat, cls in VALUES:
        if cls and re.search(pat, node):
            return cls
    m = re.search(r"\{type=([^}]*)\}$", node)
    if m:
        t = m.group(1)
        if re.search(r"tools\[\]$|definition$|tool$|^tools", node.rsplit("{", 1)[0]) or \
                re.match(r"^(web_search|advisor_|web_fetch_|code_execution_2|bash_2|text_editor_2|computer_2|"
                         r"memory_2|tool_search_tool|mcp_toolset|browser_toolset|computer_toolset|custom$|function$|"
                         r"file_search$|code_interpreter$|image_generation$|shell$|local_shell$|apply_patch$|"
                         r"computer_use_preview$|computer$|mcp$|namespace$|programmatic_tool_calling$|tool_search$)", t) \
                and not re.search(r"(content|output|result|input)", node.rsplit("{", 1)[0].rsplit(".", 1)[-1]):
            for pat, cls in TOOLS:
                if re.search(pat, t):
                    return cls
        if t == "container_upload":
            return "refused:a file stored at the provider"
        if t == "item_reference":
            return "bound:stored"
        if t == "input_audio":
            return "priced:audio"
        if t == "document" and "source" not in node.rsplit("{", 1)[0].rsplit(".", 1)[-1]:
            return "bound:document"
        if t == "file" and re.search(r"source(_\d+)?$", node.rsplit("{", 1)[0]):
            return "bound:stored"
        if t == "url" and re.search(r"source(_\d+)?$", node.rsplit("{", 1)[0]) and "document" in node + owners:
            return "bound:stored"
        if t.startswith("compact_"):
            return "priced:compaction"
    if re.search(r"(^|\.)file_id$|(^|\.)file_url$|(^|\.)file_ids$", node):
        return "bound:stored"
    if re.search(r"\{type=input_file\}$|\{type=file\}$", node):
        return "bound:document"
    if node.endswith(".file_data"):
        return "bound:document"
    cls = TOP[route].get(top)
    if cls == "bound:stored":
        return cls if node == top else "free"
    if cls and (node == top or cls.startswith("refused") or cls == "priced:compaction" and node == top):
        return cls
    if cls and cls.startswith("refused"):
        return cls
    return "free"


# The betas the provider documents, by what they change.
BETAS = [
    # the beta lets "speed" through; "speed": "fast" is what is priced
    (r"^fast-mode", "free"),
    (r"^(context-1m|extended-cache-ttl)", "priced:long_context" if False else "free"),
    (r"^(compact-|context-management)", "free"),
    (r"^advisor-tool", "free"),
    (r"^(message-batches|files-api|skills|code-execution|mcp-client|mcp-tunnels|managed-agents|dreaming|agent-memory|"
     r"server-side-fallback|fallback-credit|user-profiles|ce-|efs-|webhooks|admin-|analytics-|spend-limit|"
     r"telemetry-|message-threads|google-managed|experimental-|computer-use-2024)", "refused"),
]


def beta(name):
    for pat, cls in BETAS:
        if re.search(pat, name):
            return cls if cls != "refused" else "refused:a feature creditd does not price"
    return "free"


# The routes whose members a table holds, beside its own (count_tokens
# shares the Messages table).
SHARED = {"anthropic.messages": ("anthropic.count_tokens",)}
KINDS = ("string", "number", "boolean", "array", "object", "null")
# The routes whose bodies are forms: their fields are text, their kinds not checked.
FORMS = {"openai.images_edits"}
JSON_NOTE = ("A JSON body's member of another kind, or one lacking a required member,\n"
             "# is refused (docs/gateway.md, \"What is checked before anything is forwarded\").")
FORM_NOTE = ("The body is a form: its fields are text, so their kinds are not\n"
             "# checked, and the route's reader checks the members it requires (\"any\": a file, whose\n"
             "# type the checker cannot read).")


def top_json(paths, routes):
    """{member: "KINDS[ required]"} over routes: the kinds any route's
    type allows, required only where every route's requires it; all six
    kinds are written "any"."""
    per = []
    for r in routes:
        d = {}
        for p in paths[r]:
            if p.startswith("json:"):
                name, rest = p[5:].split("=", 1)
                kinds, _, req = rest.partition(" ")
                d[name] = (set(kinds.split("|")), req == "required")
        per.append(d)
    out = {}
    for name in set().union(*per):
        kinds = set().union(*(d[name][0] for d in per if name in d))
        text = "any" if kinds >= set(KINDS) else "|".join(k for k in KINDS if k in kinds)
        out[name] = text + (" required" if all(name in d and d[name][1] for d in per) else "")
    return out


def main():
    import json
    paths = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    for route in ("openai.chat", "openai.responses", "openai.embeddings", "anthropic.messages",
                  "openai.images_generations", "openai.images_edits"):
        tops = top_json(paths, (route,) + SHARED.get(route, ()))
        rows = compress(trie([p for p in paths[route] if not p.startswith("json:")]))
        owners = {}
        for node, alias in rows:
            if alias:
                owners.setdefault(alias[3:], []).append(node.lstrip("."))
        name = route.replace(".", "_") + ".tsv"
        with open(os.path.join(out, name), "w") as f:
            f.write("# %s: what the gateway forwards on this route (docs/gateway.md, \"What the gateway\n"
                    "# forwards\"). A row: NODE CLASS [-> NAME] [json:KINDS[ required]] [DOC]. Generated by\n"
                    "# devtools/gwtables/classify.py from the pinned SDKs' types, then kept in the tree;\n"
                    "# tests/integration/test_81b_gateway_tables.py holds it to the SDKs: every member they name\n"
                    "# has a row, every row a member, and each top-level member's json: field (the JSON kinds\n"
                    "# its type allows, | between them, any for all; required when the route's types require\n"
                    "# it) is theirs. %s\n" % (route, FORM_NOTE if route in FORMS else JSON_NOTE))
            for node, alias in rows:
                node = node.lstrip(".")
                lead = re.match(r"@[A-Za-z0-9_]+", node)
                cls = classify(route, node, " ".join(owners.get(lead.group(0), [])) if lead else "")
                top = re.split(r"[.\[{=*]", node)[0]
                doc = "" if not cls.startswith("free") or node.startswith("beta:") else \
                    " %s#%s" % (DOCS[route], top or "body")
                kinds = "\tjson:" + tops[node] if node in tops else ""
                f.write("%s\t%s%s%s%s\n" % (node, cls.split(":")[0] + (":" + cls.split(":", 1)[1].split(":")[0]
                                                                         if ":" in cls and not cls.startswith("refused")
                                                                         else ""),
                                            "\t" + alias if alias else "", kinds, "\t" + doc.strip() if doc else
                                            ("\t# " + cls.split(":", 1)[1] if cls.startswith("refused:") else "")))


if __name__ == "__main__":
    main()
