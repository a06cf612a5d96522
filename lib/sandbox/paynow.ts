/**
 * A fake Paynow (docs/payments.md) on a random loopback port, for tests and for the sandbox.
 *
 * It speaks the real wire format: form-encoded requests whose hash it checks with the
 * integration's key (`status=Error&error=Invalid Hash.  Hash should start with: …` when wrong, as
 * Paynow words it), form-encoded answers with a hash on everything except `Error` and `NotFound`,
 * poll URLs, a payment page at the browser URL, and result POSTs to the merchant's `resulturl`
 * (retried up to 10 times on an HTTP error, like Paynow). Express checkout follows Paynow's test
 * mode numbers, with delays multiplied by `timeScale` so tests run in milliseconds.
 *
 * It deliberately does not import our Paynow client: it hashes with its own few lines, so a bug
 * in our hash code cannot hide by being mirrored here (the official SDK checks both, see
 * paynow_test.ts).
 *
 * @example
 * const paynow = await startFakePaynow({ integrations: { "1201": "key" }, timeScale: 0.01 });
 * const client = new PaynowClient({ integrationId: "1201", integrationKey: "key", baseUrl: paynow.url });
 * // ... paynow.complete("HK-42", "Paid") for a web payment; paynow.requests for assertions
 * await paynow.close();
 */
import { createHash } from "node:crypto";
import {
  DEFAULT_BEHAVIOUR,
  escapeHtml,
  EXPRESS_METHODS,
  type FakePayment,
  type FakePaynow,
  type FakePaynowBehaviour,
  type FakePaynowOptions,
  type FakeRequest,
  type FakeResultPost,
  type FakeRule,
  type Fields,
  instructionsFor,
  localPhone,
  TEST_MODE_PHONES,
} from "./paynow_model.ts";

export type * from "./paynow_model.ts";
export { TEST_MODE_PHONES };

/** Paynow's hash of `fields` under `key` (values in order, `hash` fields left out). */
function hashOf(fields: Fields, key: string): string {
  const text = fields.filter(([n]) => n.toLowerCase() !== "hash").map(([, v]) => v).join("") +
    key.toLowerCase();
  return createHash("sha512").update(text, "utf8").digest("hex").toUpperCase();
}

/**
 * A form body of `fields` followed by their correct hash under `key`, whatever the fields hold:
 * for tests that post hostile but genuinely signed messages (a result POST, a poll answer).
 */
export function signedPaynowBody(fields: Fields, key: string): string {
  return new URLSearchParams([...fields, ["hash", hashOf(fields, key)]]).toString();
}

export function startFakePaynow(options: FakePaynowOptions): Promise<FakePaynow> {
  const integrations = new Map(Object.entries(options.integrations));
  if (integrations.size === 0) {
    return Promise.reject(new Error("startFakePaynow needs at least one integration"));
  }
  const timeScale = options.timeScale ?? 1;
  const phones: Record<string, FakeRule> = { ...TEST_MODE_PHONES, ...options.phones };
  const maxRecords = options.maxRecords ?? 10_000;
  let behaviour: FakePaynowBehaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };

  const requests: FakeRequest[] = [];
  const resultPosts: FakeResultPost[] = [];
  const payments: FakePayment[] = [];
  const byGuid = new Map<string, FakePayment>();
  const byReference = new Map<string, FakePayment>();
  const byTrace = new Map<string, FakePayment>();
  let nextPaynowReference = 10_000_000 + Math.floor(Math.random() * 1_000_000);

  // Everything asynchronous the fake starts, so close() leaves nothing running.
  const waits = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();
  const deliveries = new Set<Promise<void>>();
  const closing = new AbortController();
  let closed = false;

  function wait(ms: number): Promise<void> {
    if (closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          waits.delete(entry);
          resolve();
        }, Math.max(0, ms)),
        resolve,
      };
      waits.add(entry);
    });
  }

  function track(work: Promise<void>): Promise<void> {
    const tracked = work.finally(() => deliveries.delete(tracked));
    deliveries.add(tracked);
    return tracked;
  }

  function keep<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > maxRecords * 1.1) list.splice(0, list.length - maxRecords);
  }

  const server = Deno.serve(
    { hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, onListen() {} },
    (request) => handle(request),
  );
  const url = `http://${server.addr.hostname}:${server.addr.port}`;
  const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, "");

  // --- wire format ---------------------------------------------------------------------------

  /** Encodes like Paynow's .NET stack: `+` for spaces, lower-case escapes (`%3a%2f%2f`). */
  function encode(fields: Fields): string {
    const name = (n: string) => behaviour.capitaliseKeys ? n[0].toUpperCase() + n.slice(1) : n;
    const escape = (v: string) =>
      encodeURIComponent(v).replace(/%20/g, "+").replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    return fields.map(([n, v]) => `${escape(name(n))}=${escape(v)}`).join("&");
  }

  function signed(fields: Fields, key: string): string {
    return encode([...fields, ["hash", hashOf(fields, key)]]);
  }

  function statusFields(payment: FakePayment, status = payment.status): Fields {
    return [
      ["reference", payment.reference],
      ["paynowreference", payment.paynowReference],
      ["amount", payment.amount],
      ["status", status],
      ["pollurl", payment.pollUrl],
    ];
  }

  const keyOf = (payment: FakePayment) => integrations.get(payment.integrationId)!;
  const errorReply = (error: string) => encode([["status", "Error"], ["error", error]]);

  // --- HTTP ----------------------------------------------------------------------------------

  async function handle(request: Request): Promise<Response> {
    const target = new URL(request.url);
    const path = target.pathname.toLowerCase().replace(/\/+$/, "");
    const body = request.method === "POST" ? await request.text() : "";
    const fields: Fields = [...new URLSearchParams(body)];
    const values: Record<string, string> = Object.create(null);
    for (const [n, v] of fields) values[n.toLowerCase()] ??= v;
    // Recorded on arrival (the answer is filled in when sent), so a request whose answer is
    // still delayed is already visible.
    const entry: FakeRequest = {
      at: Date.now(),
      method: request.method,
      path: target.pathname + target.search,
      body,
      fields,
      values,
      answered: "",
      reply: "",
    };
    keep(requests, entry);
    const record = (answered: string, reply: string) => Object.assign(entry, { answered, reply });

    if (path.startsWith("/payment/confirmpayment/")) {
      const response = paymentPage(request, path.split("/").pop()!, values);
      record(String(response.status), "");
      return response;
    }

    let reply: string;
    if (request.method !== "POST" && path !== "/interface/checkpayment") {
      reply = errorReply("Invalid request method");
    } else if (path === "/interface/initiatetransaction") {
      reply = await initiate("web", fields, values);
    } else if (path === "/interface/remotetransaction") {
      reply = await initiate("express", fields, values);
    } else if (path === "/interface/trace") {
      reply = trace(fields, values);
    } else if (path === "/interface/checkpayment") {
      const payment = byGuid.get(target.searchParams.get("guid") ?? "");
      reply = payment
        ? signed(statusFields(payment), keyOf(payment))
        : errorReply("Invalid poll url");
    } else {
      record("404", "");
      return new Response("Not found", { status: 404 });
    }
    record(new URLSearchParams(reply).get(behaviour.capitaliseKeys ? "Status" : "status")!, reply);
    return new Response(reply, { headers: { "content-type": "text/plain; charset=utf-8" } });
  }

  /** Finds the integration and checks the hash; an error text when either is wrong. */
  function authenticate(fields: Fields, values: Record<string, string>): string | undefined {
    const key = integrations.get(values.id ?? "");
    if (key === undefined) return "Invalid Id.";
    if (values.hash === undefined) return "Missing hash.";
    const expected = hashOf(fields, key);
    if (values.hash.toUpperCase() !== expected) {
      return `Invalid Hash.  Hash should start with: ${expected.slice(0, 6)}`;
    }
  }

  async function initiate(
    kind: "web" | "express",
    fields: Fields,
    values: Record<string, string>,
  ): Promise<string> {
    const refused = authenticate(fields, values);
    if (refused) return errorReply(refused);
    const amount = Number(values.amount);
    if (!/^\d+(\.\d+)?$/.test(values.amount ?? "") || !(amount > 0)) {
      return errorReply("Invalid amount field");
    }
    if (!values.reference) return errorReply("Missing required field: reference");
    if (!values.resulturl) return errorReply("Missing required field: resulturl");
    if (kind === "web" && !values.returnurl) return errorReply("Missing required field: returnurl");
    if ((values.status ?? "").toLowerCase() !== "message") {
      return errorReply("Invalid status field");
    }
    if ((values.merchanttrace ?? "").length > 32) {
      return errorReply("merchanttrace cannot be longer than 32 characters");
    }
    let phone: string | undefined;
    let method: string | undefined;
    let rule: FakeRule | undefined;
    if (kind === "express") {
      method = (values.method ?? "").toLowerCase();
      if (!EXPRESS_METHODS.includes(method)) return errorReply("Invalid payment method");
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(values.authemail ?? "")) {
        return errorReply("Auth email is required for express checkout");
      }
      phone = localPhone(values.phone ?? "");
      if (!phone) return errorReply("Invalid mobile number");
      rule = phones[phone] ?? options.otherPhones;
      if (rule && "error" in rule) return errorReply(rule.error);
    }

    const integrationId = values.id;
    const guid = crypto.randomUUID();
    const paynowReference = String(nextPaynowReference++);
    const payment: FakePayment = {
      integrationId,
      kind,
      reference: values.reference,
      amount: amount.toFixed(2),
      additionalInfo: values.additionalinfo ?? "",
      authEmail: values.authemail ?? "",
      returnUrl: values.returnurl ?? "",
      resultUrl: values.resulturl,
      merchantTrace: values.merchanttrace || undefined,
      phone,
      method,
      paynowReference,
      pollUrl: `${publicUrl}/Interface/CheckPayment/?guid=${guid}`,
      browserUrl: kind === "web" ? `${publicUrl}/Payment/ConfirmPayment/${guid}` : undefined,
      status: kind === "web" ? "Created" : "Sent",
      history: [],
    };
    payment.history.push({ status: payment.status, at: Date.now() });
    payments.push(payment);
    byGuid.set(guid, payment);
    byReference.set(`${integrationId}\n${payment.reference}`, payment);
    if (payment.merchantTrace) byTrace.set(`${integrationId}\n${payment.merchantTrace}`, payment);
    if (rule && "status" in rule) {
      const { status, afterMs } = rule;
      wait(afterMs * timeScale).then(() => {
        // complete() may have settled it first; Paynow never reopens a payment.
        if (!closed && payment.status === "Sent") void transition(payment, status);
      });
    }

    const answer: Fields = [["status", "Ok"]];
    if (kind === "web") answer.push(["browserurl", payment.browserUrl!]);
    else answer.push(["instructions", instructionsFor(method!, phone!)]);
    answer.push(["pollurl", payment.pollUrl], ["paynowreference", paynowReference]);
    if (method === "innbucks") {
      const code = String(100_000_000 + Math.floor(Math.random() * 900_000_000));
      const expires = new Date(Date.now() + 30 * 60_000).toISOString().slice(0, 19);
      answer.push(["authorizationcode", code], ["authorizationexpires", expires.replace("T", " ")]);
    }
    if (behaviour.initiateReplyDelayMs > 0) await wait(behaviour.initiateReplyDelayMs);
    return signed(answer, integrations.get(integrationId)!);
  }

  function trace(fields: Fields, values: Record<string, string>): string {
    const refused = authenticate(fields, values);
    if (refused) return errorReply(refused);
    const payment = byTrace.get(`${values.id}\n${values.merchanttrace ?? ""}`);
    return payment
      ? signed(statusFields(payment), keyOf(payment))
      : encode([["status", "NotFound"]]);
  }

  /** The payer's page at the browser URL: shows the payment, offers Pay and Cancel. */
  function paymentPage(
    request: Request,
    guid: string,
    values: Record<string, string>,
  ): Response {
    const payment = byGuid.get(guid);
    if (!payment) return new Response("No such payment", { status: 404 });
    if (request.method === "POST") {
      if (payment.status === "Created" || payment.status === "Sent") {
        void transition(payment, values.action === "pay" ? "Paid" : "Cancelled");
      }
      return new Response(null, { status: 303, headers: { location: payment.returnUrl } });
    }
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Paynow (fake) — ${escapeHtml(payment.reference)}</title></head><body>
<h1>Fake Paynow checkout</h1>
<p>Reference <b>${escapeHtml(payment.reference)}</b> — ${escapeHtml(payment.additionalInfo)}</p>
<p>Amount <b id="amount">${escapeHtml(payment.amount)}</b> — status <b id="status">${
      escapeHtml(payment.status)
    }</b></p>
<form method="post"><button name="action" value="pay">Pay</button>
<button name="action" value="cancel">Cancel</button></form></body></html>`;
    return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
  }

  // --- status changes and result POSTs -------------------------------------------------------

  function transition(payment: FakePayment, status: string): Promise<void> {
    payment.status = status;
    payment.history.push({ status, at: Date.now() });
    const { loseResultPosts, duplicateResultPosts, forgeResultPosts } = behaviour;
    if (loseResultPosts) {
      keep(resultPosts, {
        ...postBase(payment, status, ""),
        forged: false,
        lost: true,
        copy: 0,
        attempt: 0,
      });
      return Promise.resolve();
    }
    return track((async () => {
      if (forgeResultPosts) await deliver(payment, "Paid", { forged: true, copy: 0 });
      await Promise.all(
        Array.from(
          { length: 1 + duplicateResultPosts },
          (_, copy) => deliver(payment, status, { forged: false, copy }),
        ),
      );
    })());
  }

  function postBase(payment: FakePayment, status: string, body: string) {
    return { at: Date.now(), url: payment.resultUrl, reference: payment.reference, status, body };
  }

  /** Delivers one result POST, retried on HTTP or network errors (a forgery is sent once). */
  async function deliver(
    payment: FakePayment,
    status: string,
    { forged, copy }: { forged: boolean; copy: number },
  ): Promise<void> {
    const fields = statusFields(payment, status);
    const body = forged
      ? signed(fields, "forged-" + crypto.randomUUID())
      : signed(fields, keyOf(payment));
    const attempts = forged ? 1 : behaviour.resultPostAttempts;
    for (let attempt = 1; attempt <= attempts && !closed; attempt++) {
      const entry: FakeResultPost = {
        ...postBase(payment, status, body),
        forged,
        lost: false,
        copy,
        attempt,
      };
      keep(resultPosts, entry);
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error("merchant did not answer")), 30_000);
      try {
        const response = await fetch(payment.resultUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body,
          signal: AbortSignal.any([closing.signal, timeout.signal]),
        });
        await response.body?.cancel();
        entry.httpStatus = response.status;
        if (response.ok) return;
      } catch (error) {
        entry.error = error instanceof Error ? error.message : String(error);
      } finally {
        clearTimeout(timer);
      }
      if (attempt < attempts) await wait(behaviour.resultRetryDelayMs * timeScale);
    }
  }

  function find(reference: string, integrationId?: string): FakePayment {
    const payment = integrationId === undefined
      ? payments.findLast((p) => p.reference === reference)
      : byReference.get(`${integrationId}\n${reference}`);
    if (!payment) throw new Error(`fake Paynow has no payment ${reference}`);
    return payment;
  }

  return Promise.resolve({
    url,
    requests,
    resultPosts,
    payments,
    payment(reference, integrationId) {
      try {
        return find(reference, integrationId);
      } catch {
        return undefined;
      }
    },
    complete(reference, status = "Paid", integrationId) {
      return transition(find(reference, integrationId), status);
    },
    postResult(reference, { forged = false, status, integrationId } = {}) {
      const payment = find(reference, integrationId);
      return track(deliver(payment, status ?? payment.status, { forged, copy: 0 }));
    },
    setBehaviour(change) {
      behaviour = { ...behaviour, ...change };
    },
    async settled() {
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
    async close() {
      if (closed) return;
      closed = true;
      closing.abort();
      for (const entry of waits) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      waits.clear();
      while (deliveries.size > 0) await Promise.allSettled([...deliveries]);
      await server.shutdown();
    },
  });
}
