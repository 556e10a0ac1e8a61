"""test_84b_gateway_documents.py: documents (PDF) are held by their pages
(docs/gateway.md, "Documents are held by their pages"), through nginx ->
creditd -> the fake provider (tests/fake_provider.md). The providers bill a
PDF per page (an image of each page and its text), so a hundred pages in a
few KB are held at a hundred pages, not at their bytes: a reviewer's such
PDF was held 141,134 micros and settled 1,417,527 on a balance of 150,000.
Where the model's row gives max_input_tokens the pages are held at most at
it; a PDF whose pages cannot be counted is held at it, and refused when
the row gives none."""
import base64

from lib import api, eq, check, new_account, verify
from test_80_gateway import (anthropic_error, call, chat, cost, ensure_prices, import_prices, messages,
                             openai_error, received, reset, state)

# gwshape's input bound: a page is LIMIT_GATEWAY_IMAGE_TOKENS (6,400) plus
# LIMIT_GATEWAY_PAGE_TEXT_TOKENS (6,400) (src/limits_gateway.h).
PAGE_TOKENS = 12800


def pdf(pages, count=None, object_stream=False):
    """A PDF of pages pages (each a line of text in its own content
    stream), its page tree's /Count count (pages when None); with
    object_stream its tree is said to be in a compressed object stream."""
    out = ["%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
           "2 0 obj\n<< /Type /Pages /Count %d /Kids [%s] >>\nendobj\n"
           % (pages if count is None else count, " ".join("%d 0 R" % (3 + i) for i in range(pages)))]
    for i in range(pages):
        out.append("%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n" % (3 + i))
    if object_stream:
        out.append("%d 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length 4 >>\nstream\nxxxx\n"
                   "endstream\nendobj\n" % (3 + pages))
    out.append("trailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return "".join(out).encode()


def b64(data):
    return base64.b64encode(data).decode()


def document_body(model, data, max_tokens=200):
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}},
        {"type": "text", "text": "Summarise each page."}]}]}


def file_body(model, data):
    return {"model": model, "max_completion_tokens": 200, "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64," + data}},
        {"type": "text", "text": "Summarise each page."}]}]}


def account_of(prefix, balance):
    """A new account whose balance is balance micros."""
    acct = new_account(prefix)
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0] - balance, "reason": "set it"})
    eq(state(acct), (balance, 0), "the balance set")
    return acct


def held(r):
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json["held_micros"]


def _price_context():
    """Rows that give max_input_tokens (200,000)."""
    import_prices({
        "claude-pdf-ctx": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                           "output_cost_per_token": 1.5e-05, "max_output_tokens": 64000, "max_input_tokens": 200000},
        "gpt-pdf-ctx": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.5e-07,
                        "output_cost_per_token": 6e-07, "max_output_tokens": 16384, "max_input_tokens": 200000}},
        "--force")


def test_a_hundred_page_pdf_in_a_few_kb_is_held_by_its_pages():
    """The reviewer's case: a hundred pages in a few KB, on an account of
    150,000 micros, to Anthropic's Messages and as OpenAI chat's file_data
    (the models' rows give no max_input_tokens): its pages' worst case is
    past the balance, so it is refused 402 and nothing is forwarded (before:
    forwarded, held at its bytes)."""
    ensure_prices()
    reset()
    data = b64(pdf(100))
    body = document_body("claude-sonnet-4-5", data)
    check(10000 < len(str(body)) < 16500, "a hundred pages in %d bytes" % len(str(body)))
    acct = account_of("gwpdf", 150000)
    r = messages(acct, body)
    anthropic_error(r, 402, "billing_error")
    eq(r.json["error"]["required_micros"] >= cost("claude-sonnet-4-5", 100 * PAGE_TOKENS, 0, 0), True,
       "the 402 asks a hundred pages' worth: %r" % r.json)
    openai_error(chat(acct, file_body("gpt-4o-mini", data)), 402, "insufficient_credits")
    eq(received(), [], "nothing forwarded")
    eq(state(acct), (150000, 0), "nothing held or charged")
    verify()


def test_the_hold_covers_every_page_and_is_capped_by_the_model_s_context():
    """With the credit to cover it, the hundred pages are held at a hundred
    pages' bound (GET /v1/holds/{id}), at most the model's max_input_tokens
    where its row gives one."""
    ensure_prices()
    _price_context()
    reset()
    data = b64(pdf(100))
    acct = new_account("gwpdfok")
    r = messages(acct, document_body("claude-sonnet-4-5", data))
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    got = held(r)
    check(got >= cost("claude-sonnet-4-5", 100 * PAGE_TOKENS, 0, 200),
          "held %d, at least a hundred pages at the input price (%d)" % (got, cost("claude-sonnet-4-5", 100 * PAGE_TOKENS, 0, 200)))
    r = chat(acct, file_body("gpt-pdf-ctx", data))
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    eq(held(r), cost("gpt-pdf-ctx", 200000, 0, 200), "held at the model's 200,000 input tokens, not 1,280,000")
    r = chat(acct, file_body("gpt-pdf-ctx", b64(pdf(2))))
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    small = held(r)
    check(small >= cost("gpt-pdf-ctx", 2 * PAGE_TOKENS, 0, 200) and small < cost("gpt-pdf-ctx", 3 * PAGE_TOKENS, 0, 200),
          "two pages held at two pages' bound and their text: %d" % small)
    verify()


def test_a_pdf_whose_pages_cannot_be_counted_is_held_at_the_model_s_context():
    """An object stream may hide the page tree compressed: held at
    max_input_tokens, refused (400, naming the member, nothing forwarded)
    where the row gives none."""
    ensure_prices()
    _price_context()
    reset()
    hidden = b64(pdf(1, object_stream=True))
    acct = new_account("gwpdfhid")
    anthropic_error(messages(acct, document_body("claude-sonnet-4-5", hidden)), 400, "invalid_request_error")
    openai_error(chat(acct, file_body("gpt-4o-mini", hidden)), 400, "invalid_request", "file_data")
    eq(received(), [], "nothing forwarded")
    r = chat(acct, file_body("gpt-pdf-ctx", hidden))
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    eq(held(r), cost("gpt-pdf-ctx", 200000, 0, 200), "held at the model's 200,000 input tokens")
    r = call("/openai/v1/responses", {"model": "gpt-pdf-ctx", "max_output_tokens": 200, "input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "x.pdf", "file_data": "data:application/pdf;base64," + b64(b"not a pdf")}]}]},
        headers={"Creditd-Account": acct})
    eq(r.status, 200, "forwarded: %r" % r.body[:200])
    eq(held(r), cost("gpt-pdf-ctx", 200000, 0, 200), "not a PDF: held at the model's 200,000 input tokens")
    verify()
