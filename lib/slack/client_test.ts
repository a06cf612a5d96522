import assert from "node:assert/strict";
import { startFakeSlack } from "../sandbox/slack.ts";
import { createSlackClient, SlackError } from "./client.ts";

const failureOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof SlackError, String(error));
    return error.failure;
  }
  throw new Error("expected a SlackError");
};

Deno.test("Slack client: posts, and reads ok:false, 429 and 5xx as Slack means them", async () => {
  await using slack = await startFakeSlack({ channels: ["#alerts"] });
  const client = createSlackClient({ token: slack.token, apiUrl: slack.url });

  const posted = await client.postMessage({ channel: "#alerts", text: "*paid*" });
  assert.match(posted.ts, /^\d+\.\d{6}$/);
  assert.equal(slack.messages[0].text, "*paid*");

  // HTTP 200 with ok:false is a failure, and a permanent one.
  const missing = await failureOf(client.postMessage({ channel: "#nowhere", text: "x" }));
  assert.deepEqual(missing, {
    status: 200,
    error: "channel_not_found",
    retryable: false,
    retryAfterSeconds: undefined,
  });

  slack.failNext(1, { status: 429, retryAfterSeconds: 7 });
  const limited = await failureOf(client.postMessage({ channel: "#alerts", text: "x" }));
  assert.equal(limited.retryable, true);
  assert.equal(limited.retryAfterSeconds, 7);

  slack.failNext(1, { status: 500 });
  assert.equal(
    (await failureOf(client.postMessage({ channel: "#alerts", text: "x" }))).retryable,
    true,
  );

  const wrongToken = createSlackClient({ token: "xoxb-wrong", apiUrl: slack.url });
  const auth = await failureOf(wrongToken.postMessage({ channel: "#alerts", text: "x" }));
  assert.equal(auth.error, "invalid_auth");
  assert.equal(auth.retryable, false);
  assert.equal(slack.messages.length, 1, "only the first post got through");
});

Deno.test("Slack client: a network failure is retryable and names no URL or token", async () => {
  const client = createSlackClient({
    token: "xoxb-secret-token",
    apiUrl: "http://127.0.0.1:9/api",
  });
  try {
    await client.postMessage({ channel: "#a", text: "x" });
    assert.fail("expected a failure");
  } catch (error) {
    assert.ok(error instanceof SlackError);
    assert.equal(error.failure.retryable, true);
    assert.doesNotMatch(error.message, /xoxb|127\.0\.0\.1/);
  }
});
