/**
 * Notifications bench: BENCH_NOTIFICATIONS (default 10,000) publishes to a topic with two
 * channels (Slack and Telegram, the fakes of lib/sandbox/), each publish recorded in Postgres
 * and its two deliveries sent by the `notifications.deliver` jobs, read against a bare loop
 * that calls the same fakes directly with the same concurrency as the notifications lane, in
 * the same run.
 *
 * The whole app runs in this process (main.ts `start()`, cron off) with KV in a file under a
 * temporary DATA_DIR, on the embedded database (or DATABASE_URL's server); the fakes share its
 * event loop, as do the publishers (50 publishes awaited at once).
 *
 * Figures: deliveries a second (from the first publish until the last delivery is `sent`), and
 * the p50/p99 from publish to sent (the publication's `created_at` to the delivery's `sent_at`,
 * both read from Postgres); for the bare loop, calls a second and the p50/p99 of one call.
 */
import { benchStorage, startBenchApp } from "./_app.ts";
import { LANE_CONCURRENCY } from "../lib/jobs/types.ts";
import { startFakeSlack } from "../lib/sandbox/slack.ts";
import { startFakeTelegram } from "../lib/sandbox/telegram.ts";
import { createSlackClient } from "../lib/slack/client.ts";
import { createTelegramClient } from "../lib/telegram/client.ts";
import { delay, envNumber, integer, ms, onCleanup, percentile, table } from "./_support.ts";

export const description =
  "publish → sent through the notifications lane (Slack + Telegram fakes) vs calling the fakes directly";

const PUBLISHERS = 50;
const TOPIC = "bench";
/** The topic's channels: one for each fake, to where the bare loop sends too. */
const CHANNELS = [
  { name: "slack", method: "slack", settings: { channel: "#bench" } },
  { name: "telegram", method: "telegram", settings: { chat_id: 42 } },
];

/** `fn(0 … n-1)`, with at most `inFlight` calls awaited at once. */
async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

export async function run(): Promise<void> {
  const count = envNumber("BENCH_NOTIFICATIONS", 10_000, 10, 1_000_000);
  const slack = await startFakeSlack({ maxRecords: 100 });
  onCleanup(() => slack.close());
  const telegram = await startFakeTelegram({ maxRecords: 100 });
  onCleanup(() => telegram.close());

  // The floor: the same 2 × count messages sent straight to the fakes, lane-wide concurrency.
  const slackClient = createSlackClient({ token: slack.token, apiUrl: slack.url });
  const telegramClient = createTelegramClient({ token: telegram.token, apiUrl: telegram.url });
  const bareLatency = new Float64Array(2 * count);
  const bareStarted = performance.now();
  await pool(2 * count, LANE_CONCURRENCY.notifications, async (i) => {
    const started = performance.now();
    if (i % 2 === 0) await slackClient.postMessage({ channel: "#bench", text: `message ${i}` });
    else await telegramClient.sendMessage({ chat_id: 42, text: `message ${i}` });
    bareLatency[i] = performance.now() - started;
  });
  const bareMs = performance.now() - bareStarted;
  bareLatency.sort();

  const storage = await benchStorage();
  const { running, problems, close } = await startBenchApp({
    storage,
    logName: "notifications.log",
    env: {
      SLACK_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.url,
      LOG_LEVEL: "warn",
    },
  });
  try {
    const { notifications, queue, db } = running;
    const channelIds: string[] = [];
    for (const channel of CHANNELS) {
      channelIds.push((await notifications.channels.create(channel)).id);
    }
    await notifications.topics.create({ name: TOPIC, channelIds });

    const started = performance.now();
    await pool(
      count,
      PUBLISHERS,
      (i) => notifications.publish(queue, TOPIC, { title: "Bench", text: `Message **${i}**` }),
    );
    const publishedMs = performance.now() - started;
    const expected = 2 * count;
    let sent = 0;
    for (let waited = 0; sent < expected; waited += 100) {
      if (waited > 600_000) throw new Error(`${sent} of ${expected} deliveries sent after 10 min`);
      await delay(100);
      [{ sent }] = await db.sql`select count(*)::int as sent from notification_deliveries
                                where status = 'sent'`;
    }
    const [times] = await db.sql`
      select max(d.sent_at) - min(p.created_at) as span,
        percentile_disc(0.5) within group (order by d.sent_at - p.created_at) as p50,
        percentile_disc(0.99) within group (order by d.sent_at - p.created_at) as p99
      from notification_deliveries d join notification_publications p on p.id = d.publication_id`;
    const seconds = (interval: string) => {
      const [h, m, s] = interval.split(":").map(Number);
      return (h * 3600 + m * 60 + s) * 1000;
    };
    const wallMs = performance.now() - started;
    const [{ failed }] = await db.sql`select count(*)::int as failed from notification_deliveries
                                      where status <> 'sent'`;

    console.log(table(["target", "messages", "per second", "p50 ms", "p99 ms"], [
      [
        "publish → sent (Hurukuro)",
        integer(expected),
        integer(expected / (wallMs / 1000)),
        ms(seconds(String(times.p50))),
        ms(seconds(String(times.p99))),
      ],
      [
        "bare loop, fakes direct",
        integer(expected),
        integer(expected / (bareMs / 1000)),
        ms(percentile(bareLatency, 50)),
        ms(percentile(bareLatency, 99)),
      ],
    ]));
    console.log(
      `\n${integer(count)} publishes took ${ms(publishedMs)} ms (${
        integer(count / (publishedMs / 1000))
      }/s, ${PUBLISHERS} at once); first publish to last sent ${
        ms(seconds(String(times.span)))
      } ms;` +
        ` notifications lane concurrency ${LANE_CONCURRENCY.notifications}; not sent: ${failed};` +
        ` database: ${db.kind}.`,
    );
    if (problems.length > 0) console.log(`warnings logged:\n${problems.join("\n")}`);
  } finally {
    await close();
  }
}
