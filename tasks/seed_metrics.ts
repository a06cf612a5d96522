/**
 * `deno task seed:metrics [--from 2026-01-01] [--days 30] [--messages 1000000]
 * [--payments 50000] [--users 20000]`: fills the configured database with a generated month of
 * activity for the daily metrics (their backfill bench, bench/metrics.ts, and trying the admin
 * dashboard): users, conversations and messages on every channel and mode, payments in every
 * outcome with their Paynow events, the wallet entries they cause, and a few dead letters.
 *
 * Set-based SQL (`generate_series`), so a million messages take seconds on a real server. Every
 * row is tagged (`seed-<run>-…` e-mails, `SEED…` references, `seed:` keys) and each run adds a
 * new set. Wallet balances are recomputed from the ledger at the end (a user whose generated
 * usage exceeds their purchases gets a grant first), so balances still equal their entries.
 * Refused in production. On the embedded database stop the server first (one process owns it).
 */
import { z } from "zod";
import { loadConfig } from "../lib/config.ts";
import { migrate } from "../lib/db/migrate.ts";
import type { Sql } from "../lib/db/mod.ts";
import { dayBounds } from "../lib/metrics/daily.ts";
import { addDays, dayIn, isDay } from "../lib/metrics/days.ts";
import { createLogger } from "../lib/observability/log.ts";
import { parseFlags } from "./job.ts";
import { openConfiguredDatabase, runTask } from "./_task.ts";

export interface SeedOptions {
  /** First day (in `timeZone`). */
  from: string;
  days: number;
  messages: number;
  payments: number;
  users: number;
  timeZone: string;
  /** Called with each step's name and milliseconds. */
  onStep?: (step: string, ms: number, rows: number) => void;
}

export interface SeedResult {
  tag: string;
  rows: Record<string, number>;
  ms: number;
}

const MESSAGES_PER_CONVERSATION = 10;

/** Generates the data set; returns the rows written per table. */
export async function seedMetrics(sql: Sql, o: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const tag = crypto.randomUUID().slice(0, 8);
  // Phone numbers of this run: +2637 <3 digits> <6 digits>.
  const run = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
  const { start } = await dayBounds(sql, o.from, o.timeZone);
  const { end } = await dayBounds(sql, addDays(o.from, o.days - 1), o.timeZone);
  const span = (end.getTime() - start.getTime()) / 1000; // seconds
  const rows: Record<string, number> = {};
  const step = async (name: string, fn: () => Promise<number>) => {
    const t = performance.now();
    const n = await fn();
    rows[name] = (rows[name] ?? 0) + n;
    o.onStep?.(name, performance.now() - t, n);
  };
  // A random instant of the range, as SQL.
  const at = sql`${start}::timestamptz + random() * ${span} * interval '1 second'`;

  await step("users", async () => {
    const r = await sql`
      insert into users (email, display_name, phone, tier, created_at)
      select 'seed-' || ${tag} || '-' || g || '@seed.hurukuro.test', 'Seed ' || g,
             case when g % 2 = 0 then '+2637' || ${run} || lpad(g::text, 6, '0') end,
             (array['free', 'free', 'free', 'standard', 'pro'])[1 + floor(random() * 5)::int],
             ${at}
      from generate_series(1, ${o.users}) g
      on conflict do nothing`;
    await sql`insert into ledger_accounts (kind, user_id, name)
              select 'user', id, 'user:' || id from users
              where email like ${`seed-${tag}-%`}`;
    return r.count;
  });
  const userIds = sql`(select array_agg(id) from users where email like ${`seed-${tag}-%`})`;

  const conversations = Math.max(1, Math.ceil(o.messages / MESSAGES_PER_CONVERSATION));
  await step("conversations", async () =>
    (await sql`
      insert into conversations (user_id, mode, channel, title, created_at, last_activity_at)
      select ids[1 + floor(random() * array_length(ids, 1))::int],
             (array['chat', 'chat', 'chat', 'essay'])[1 + floor(random() * 4)::int],
             (array['web', 'whatsapp', 'whatsapp', 'api'])[1 + floor(random() * 4)::int],
             'seed:' || ${tag}, t, t
      -- A volatile select list keeps the derived table from being flattened: one instant a row.
      from (select ${at} as t from generate_series(1, ${conversations})) s,
           (select ${userIds} as ids) u`).count);

  await step("messages", async () =>
    (await sql`
      insert into messages (conversation_id, user_id, role, content, status, channel, mode,
                            model, tokens_in, tokens_out, usage_estimated, cost, latency_ms,
                            ttft_ms, created_at, completed_at)
      select c.id, c.user_id, c.role, 'seed message ' || c.k, c.status, c.channel, c.mode,
             case when c.role = 'assistant' then 'gpt-4o-mini' end,
             case when c.role = 'assistant' then 40 + floor(random() * 1500)::int end,
             case when c.role = 'assistant' then 20 + floor(random() * 900)::int end,
             case when c.role = 'assistant' then false end,
             case when c.role = 'assistant' then 1 + floor(random() * 2500)::bigint end,
             case when c.role = 'assistant' and c.status = 'complete'
                  then 400 + floor(random() * random() * 20000)::int end,
             case when c.role = 'assistant' and c.status = 'complete'
                  then 150 + floor(random() * random() * 2500)::int end,
             c.at, c.at
      from (
        select c.id, c.user_id, c.channel, c.mode, k, c.created_at + k * interval '45 seconds' as at,
               case when k % 2 = 0 then 'user' else 'assistant' end as role,
               case when k % 2 = 1 and random() < 0.03 then 'aborted' else 'complete' end
                 as status
        from conversations c cross join generate_series(0, ${MESSAGES_PER_CONVERSATION - 1}) k
        where c.title = ${"seed:" + tag}) c`).count);

  await step("payments", async () =>
    (await sql`
      insert into payments (user_id, package_id, tokens, currency, amount, method, phone, channel,
                            reference, status, flag, paynow_reference, poll_count, expires_at,
                            created_at, updated_at, settled_at)
      select ids[1 + floor(random() * array_length(ids, 1))::int], p.id, p.tokens, x.currency,
             case when x.currency = 'USD' then p.price_usd else p.price_zig end,
             x.method, case when x.method <> 'web' then '+263771111111' end,
             (array['web', 'whatsapp', 'api'])[1 + floor(random() * 3)::int],
             'SEED' || ${tag.toUpperCase()} || x.g, x.status,
             case when x.status = 'paid' and random() < 0.002 then 'amount_mismatch' end,
             'PN' || x.g, 1 + floor(random() * 4)::int, x.t + interval '30 minutes', x.t, x.t,
             case when x.status not in ('created', 'sent')
                  then x.t + (20 + random() * random() * 1800) * interval '1 second' end
      from (
        select g, t, r1,
               case when r2 < 0.75 then 'USD' else 'ZiG' end as currency,
               (array['ecocash', 'ecocash', 'ecocash', 'onemoney', 'innbucks', 'web'])
                 [1 + floor(r4 * 6)::int] as method,
               case when r3 < 0.70 then 'paid' when r3 < 0.78 then 'cancelled'
                    when r3 < 0.85 then 'failed' when r3 < 0.97 then 'expired'
                    else 'sent' end as status
        from (select g, ${at} as t, random() as r1, random() as r2, random() as r3,
                     random() as r4
              from generate_series(1, ${o.payments}) g) y) x
      cross join (select ${userIds} as ids) u
      cross join lateral (
        select * from token_packages where price_usd is not null and price_zig is not null
        order by position offset floor(x.r1 * 3)::int limit 1) p`).count);

  await step("payment_events", async () => {
    const initiated = await sql`
      insert into payment_events (payment_id, source, raw, paynow_status, status_from, status_to,
                                  created_at)
      select id, 'initiate', 'status=Ok&pollurl=seed', 'Ok', 'created', 'sent',
             created_at + interval '1 second'
      from payments where reference like ${`SEED${tag.toUpperCase()}%`}`;
    const settled = await sql`
      insert into payment_events (payment_id, source, raw, paynow_status, status_from, status_to,
                                  note, created_at)
      select id, case when status = 'expired' then 'expiry' else 'poll' end,
             'status=' || initcap(status), initcap(status), 'sent', status,
             case when flag is not null then 'flagged: ' || flag end, settled_at
      from payments
      where reference like ${`SEED${tag.toUpperCase()}%`} and settled_at is not null`;
    return initiated.count + settled.count;
  });

  await step("ledger_entries", async () => {
    const bought = await sql`
      insert into ledger_entries (idempotency_key, kind, debit_account, credit_account, amount,
                                  user_id, description, reference, created_at)
      select 'seed:payment:' || p.id, 'purchase_credit',
             (select id from ledger_accounts where name = 'system:sales'), a.id, p.tokens,
             p.user_id, 'seed purchase', jsonb_build_object('paymentId', p.id), p.settled_at
      from payments p join ledger_accounts a on a.user_id = p.user_id
      where p.reference like ${`SEED${tag.toUpperCase()}%`} and p.status = 'paid'
        and p.flag is null`;
    const used = await sql`
      insert into ledger_entries (idempotency_key, kind, debit_account, credit_account, amount,
                                  user_id, description, created_at)
      select 'seed:usage:' || m.id, 'usage_debit', a.id,
             (select id from ledger_accounts where name = 'system:usage'), m.cost, m.user_id,
             'seed answer', m.created_at
      from messages m
      join conversations c on c.id = m.conversation_id
      join ledger_accounts a on a.user_id = m.user_id
      where c.title = ${"seed:" + tag} and m.role = 'assistant' and m.cost > 0`;
    // Whoever used more than they bought got a grant before the range began.
    const granted = await sql`
      insert into ledger_entries (idempotency_key, kind, debit_account, credit_account, amount,
                                  user_id, description, created_at)
      select 'seed:grant:' || a.id, 'signup_grant',
             (select id from ledger_accounts where name = 'system:grants'), a.id, d.deficit,
             a.user_id, 'seed grant', ${new Date(start.getTime() - 1000)}
      from ledger_accounts a
      join (select user_id, sum(case when kind = 'usage_debit' then amount else -amount end)
                     as deficit
            from ledger_entries where idempotency_key like ${`seed:%`}
              and user_id in (select unnest(${userIds}))
            group by user_id) d on d.user_id = a.user_id and d.deficit > 0`;
    return bought.count + used.count + granted.count;
  });

  await step("balances", async () =>
    (await sql`
      update ledger_accounts a set balance = t.balance, updated_at = now()
      from (select account, sum(delta) as balance
            from (select credit_account as account, amount as delta from ledger_entries
                  union all
                  select debit_account, -amount from ledger_entries) e
            group by account) t
      where t.account = a.id and a.balance <> t.balance`).count);

  await step("job_failures", async () =>
    (await sql`
      insert into job_failures (job_id, job, payload, attempts, last_error, first_seen, last_seen)
      select 'seed-' || ${tag} || '-' || g, (array['payments.poll', 'email.send'])[1 + g % 2],
             '{}', 5, 'seed: upstream timed out', t, t + interval '3 minutes'
      from (select g, ${at} as t from generate_series(1, ${Math.max(1, o.days)}) g) s`).count);

  await step("analyze", async () => {
    await sql`analyze users, conversations, messages, payments, payment_events, ledger_entries,
                      job_failures`;
    return 0;
  });
  return { tag, rows, ms: performance.now() - started };
}

const Args = z.object({
  from: z.string().refine(isDay, "expected YYYY-MM-DD").optional(),
  days: z.coerce.number().int().min(1).max(366).default(30),
  messages: z.coerce.number().int().min(0).max(50_000_000).default(1_000_000),
  payments: z.coerce.number().int().min(0).max(5_000_000).default(50_000),
  users: z.coerce.number().int().min(1).max(5_000_000).default(20_000),
}).strict();

async function main(argv: string[]): Promise<number> {
  const parsed = Args.safeParse(parseFlags(argv));
  if (!parsed.success) {
    console.error(
      parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n") +
        "\nusage: deno task seed:metrics [--from YYYY-MM-DD] [--days 30] [--messages 1000000] " +
        "[--payments 50000] [--users 20000]",
    );
    return 2;
  }
  const config = await loadConfig(Deno.env.toObject());
  if (config.env === "production") {
    console.error("seed:metrics refuses to run in production");
    return 78;
  }
  const args = parsed.data;
  // Default: the `days` days before today, so the dashboard's last 30 days are full.
  const from = args.from ?? addDays(dayIn(new Date(), config.tzMetrics), -args.days);
  const log = createLogger({ level: "warn" });
  const db = await openConfiguredDatabase(config, log);
  try {
    await migrate(db.sql);
    console.log(
      `seeding ${args.days} days from ${from} (${config.tzMetrics}) into the ${db.kind} database`,
    );
    const result = await seedMetrics(db.sql, {
      ...args,
      from,
      timeZone: config.tzMetrics,
      onStep: (name, ms, rows) =>
        console.log(`  ${name.padEnd(15)} ${String(rows).padStart(9)} rows  ${Math.round(ms)} ms`),
    });
    console.log(
      `seed ${result.tag} done in ${(result.ms / 1000).toFixed(1)} s; record its figures with ` +
        `deno task job metrics:daily --from ${from} --to ${addDays(from, args.days - 1)}`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

if (import.meta.main) await runTask(() => main(Deno.args));
