// app/api/chat/route.ts: a Next.js App Router route handler that charges a
// chat answer in credits. It authorizes before calling the model (a refusal
// is a 402/429 the page can show), streams the provider's answer to the
// browser as it comes, and settles from the stream's final usage chunk.
// If the stream breaks off, or the browser goes away, the tokens produced
// so far are settled; a call that produced nothing is released.
//
// Needs: `npm install openai ./path/to/creditd/clients/node` and, in the
// server's environment, CREDITD_URL and CREDITD_GUARD_KEY (a guard key:
// never send it to the browser).
import OpenAI from 'openai';
import {
  Creditd, Guard, InsufficientCredits, LimitReached, RateLimited, AccountSuspended,
} from 'creditd-client';

export const runtime = 'nodejs'; // node:crypto and a long-lived client
export const dynamic = 'force-dynamic';

const MODEL = 'gpt-4o-mini';
const credits = new Creditd(process.env.CREDITD_URL!, process.env.CREDITD_GUARD_KEY!, { timeoutMs: 5000 });
const openai = new OpenAI();

type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

/** Your session lookup (NextAuth, Clerk, a cookie...): the creditd account id of the signed-in user. */
declare function currentUserId(req: Request): Promise<string | null>;

/** A rough prompt size for the hold; the settle uses the provider's exact count. */
function estimateInputTokens(messages: ChatMessage[]): number {
  const chars = messages.reduce((n, m) => n + m.content.length + 8, 0);
  return Math.ceil(chars / 4) + 16;
}

function refusal(error: unknown): Response | null {
  if (error instanceof InsufficientCredits) {
    return Response.json({ error: 'insufficient_credits', available_micros: error.availableMicros,
      required_micros: error.requiredMicros }, { status: 402 });
  }
  if (error instanceof LimitReached) {
    return Response.json({ error: error.code }, { status: 429 });
  }
  if (error instanceof RateLimited) {
    return Response.json({ error: 'rate_limited' },
      { status: 429, headers: { 'Retry-After': String(error.retryAfter ?? 60) } });
  }
  if (error instanceof AccountSuspended) {
    return Response.json({ error: 'account_suspended' }, { status: 403 });
  }
  return null;
}

export async function POST(req: Request): Promise<Response> {
  const userId = await currentUserId(req);
  if (!userId) return Response.json({ error: 'unauthorized' }, { status: 401 });
  const { chatId, messageId, messages } = (await req.json()) as {
    chatId: string; messageId: string; messages: ChatMessage[];
  };

  // 1. Authorize: hold the worst case. The same requestId (a retried POST)
  //    answers the same hold. minOutputTokens: a user short of credit gets
  //    a shorter answer rather than none.
  let hold: Guard;
  try {
    hold = await credits.startGuard({
      account: userId,
      requestId: `${chatId}:${messageId}`,
      conversationId: chatId,
      model: MODEL,
      inputTokens: estimateInputTokens(messages),
      maxOutputTokens: 1024,
      minOutputTokens: 64,
    });
  } catch (error) {
    const answer = refusal(error);
    if (answer) return answer;
    throw error;
  }

  // 2. Call the model with the output cap the hold covers, asking for the
  //    final usage chunk (stream_options.include_usage).
  let upstream: Awaited<ReturnType<typeof openai.chat.completions.create>> & AsyncIterable<OpenAI.ChatCompletionChunk>;
  try {
    upstream = await openai.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: hold.maxOutputTokens ?? 1024,
    });
  } catch (error) {
    await hold.finish(error); // nothing was produced: the hold is released
    return Response.json({ error: 'upstream_error' }, { status: 502 });
  }

  // 3. Stream to the browser; settle at the end from the usage chunk, or
  //    with what was streamed when it broke off or the browser left.
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let answer = '';
      try {
        for await (const chunk of hold.openaiStream(upstream)) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) {
            answer += text;
            controller.enqueue(encoder.encode(text));
          }
        }
        const settled = await hold.finish();
        controller.close();
        // e.g. prisma.message.create({ data: { chatId, role: 'assistant', content: answer,
        //        costMicros: (settled as { charged_micros?: number } | null)?.charged_micros ?? 0 } })
        void settled;
      } catch (error) {
        // The provider failed midway, or enqueue threw because the browser
        // went away: settle the tokens produced so far (never more than the hold).
        await hold.finish(error);
        if (hold.settleError) console.error('creditd settle failed, hold left pending', hold.holdId, hold.settleError);
        try { controller.error(error); } catch { /* already closed */ }
      }
      void answer;
    },
    cancel() {
      // The browser went away: stop paying for tokens nobody reads. The
      // loop above then ends with an error and settles what was produced.
      upstream.controller.abort();
    },
  });

  return new Response(body, {
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
  });
}
