/** A `fetch` for unit tests of an upstream client: it records each request and answers it. */

/** One request as the client sent it. */
export interface RecordedCall {
  method: string;
  url: string;
  authorization: string | null;
  body: string;
}

/** Answers the `n`th call (from 1) with `answer`; `calls` lists them in order. */
export function recordingFetch(
  answer: (call: RecordedCall, n: number) => Response | Promise<Response>,
) {
  const calls: RecordedCall[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const call = {
      method: request.method,
      url: request.url,
      authorization: request.headers.get("authorization"),
      body: await request.text(),
    };
    calls.push(call);
    return answer(call, calls.length);
  }) as typeof fetch;
  return { calls, fetch: fetchFn };
}
