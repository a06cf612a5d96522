/**
 * `/admin/users`: find people by e-mail, phone or name; see one with their wallet ledger and
 * payments; adjust their balance (through the ledger, as an `admin_adjustment` carrying the
 * admin's id and reason), change their tier, disable or enable them. Each change is audited.
 */
import { textField } from "../../lib/text.ts";
import { Hono } from "hono";
import { z } from "zod";
import { listTiers } from "../../lib/accounts/tiers.ts";
import { getUser } from "../../lib/accounts/users.ts";
import { recentAudit } from "../../lib/admin/audit.ts";
import {
  adjustBalance,
  changeTier,
  type LedgerLine,
  recentUserPayments,
  searchUsers,
  setOfficer,
  setUserDisabled,
  userLedger,
  type UserRow,
} from "../../lib/admin/users.ts";
import { listAreas, officerAreas as areasOfOfficer } from "../../lib/grievances/taxonomy.ts";
import { publish } from "../../lib/events.ts";
import { AppError, notFound } from "../../lib/errors.ts";
import { maskPhone } from "../../lib/observability/mask.ts";
import { randomToken } from "../../lib/security/tokens.ts";
import { getBalance } from "../../lib/wallet/ledger.ts";
import { type AuthEnv, pageCsrfToken } from "../_auth.ts";
import type { AppContext } from "../_context.ts";
import { formatCount } from "../../lib/format.ts";
import { actorOf } from "./_audit.ts";
import { adminForm, back, foundById, UUID } from "./_forms.ts";
import { adminPage, Fact, Time } from "./_layout.tsx";
import { type Column, CursorPager, ListTable, searchListPage, TitledList } from "./_list.tsx";
import { paymentColumns } from "./payments.tsx";

const Reason = textField().trim().min(3).max(500);

const userColumns = (tz: string): Column<UserRow>[] => [
  {
    label: "E-mail",
    cell: (u) => (
      <>
        <a href={`/admin/users/${u.id}`}>{u.email ?? "(no e-mail)"}</a>
        {u.role !== "user" && <span class="badge">{u.role}</span>}
      </>
    ),
  },
  { label: "Name", cell: (u) => u.display_name ?? "" },
  { label: "Phone", cell: (u) => u.phone ? maskPhone(u.phone) : "" },
  { label: "Tier", cell: (u) => u.tier },
  {
    label: "Balance",
    num: true,
    cell: (u) => u.balance === null ? "—" : formatCount(Number(u.balance)),
  },
  { label: "Joined", cell: (u) => <Time at={u.created_at} tz={tz} /> },
  {
    label: "Status",
    cell: (u) => u.disabled_at ? <span class="badge bad">disabled</span> : "active",
  },
];

const ledgerColumns = (tz: string): Column<LedgerLine>[] => [
  { label: "When", cell: (e) => <Time at={e.created_at} tz={tz} /> },
  { label: "Kind", cell: (e) => e.kind.replace("_", " ") },
  {
    label: "Tokens",
    num: true,
    class: (e) => e.credited ? "good" : "bad",
    cell: (e) => (
      <>
        {e.credited ? "+" : "−"}
        {formatCount(Number(e.amount))}
      </>
    ),
  },
  { label: "Description", cell: (e) => e.description },
  { label: "By", cell: (e) => e.admin_email ?? "" },
];

const Adjustment = z.object({
  delta: textField().trim().regex(/^[+-]?\d{1,10}$/).transform(Number)
    .refine((n) => n !== 0 && Math.abs(n) <= 1_000_000_000),
  reason: Reason,
  // Generated with the form: a double submit posts one entry (the ledger's idempotency key).
  nonce: textField().regex(/^[A-Za-z0-9_-]{16,64}$/),
});

export function userRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const sql = ctx.db.sql;
  const tz = ctx.config.tzMetrics;

  app.get("/users", (c) =>
    searchListPage(c, ctx, {
      title: "Users",
      section: "/admin/users",
      searchHint: "e-mail, phone or name",
      columns: userColumns(tz),
      empty: "No users match.",
      search: (q, page) => searchUsers(sql, q, page),
    }));

  app.get("/users/:id", async (c) => {
    const id = c.req.param("id");
    const user = await foundById(id, "This user", (id) => getUser(sql, id));
    const before = /^\d{1,19}$/.test(c.req.query("before") ?? "") ? c.req.query("before")! : null;
    const [wallet, tiers, entries, payments, trail] = await Promise.all([
      getBalance(sql, id).catch(() => null),
      listTiers(sql),
      userLedger(sql, id, { before, limit: 20 }),
      recentUserPayments(sql, id),
      recentAudit(sql, "user", id),
    ]);
    const [areas, officerAreas] = await Promise.all([listAreas(sql), areasOfOfficer(sql, id)]);
    const csrf = await pageCsrfToken(c, ctx);
    const self = c.get("auth")!.user.id === id;
    return adminPage(c, ctx, {
      title: user.email ?? user.phone ?? user.id,
      section: "/admin/users",
      children: (
        <>
          <dl class="facts">
            <Fact term="Name">{user.displayName ?? "—"}</Fact>
            <Fact term="Phone">{user.phone ?? "—"}</Fact>
            <Fact term="Role">{user.role}</Fact>
            <Fact term="Tier" testId="tier">{user.tier}</Fact>
            <Fact term="Status" testId="status">{user.disabled ? "disabled" : "active"}</Fact>
            <Fact term="Joined">
              <Time at={user.createdAt} tz={tz} />
            </Fact>
            <Fact term="Balance">
              <strong data-testid="balance">{wallet ? wallet.balance : "—"}</strong>
              {wallet && wallet.reserved > 0 && ` (${wallet.reserved} reserved)`}
            </Fact>
          </dl>

          <div class="cards actions">
            <form method="post" action={`/admin/users/${id}/adjust`} class="card stack">
              <h2>Adjust balance</h2>
              <input type="hidden" name="_csrf" value={csrf} />
              <input type="hidden" name="nonce" value={randomToken(18)} />
              <label>
                Tokens (negative to take away)
                <input name="delta" type="text" inputMode="numeric" required pattern="[+\-]?\d+" />
              </label>
              <label>
                Reason (required, kept in the ledger and the audit log)
                <input name="reason" type="text" required minLength={3} maxLength={500} />
              </label>
              <button type="submit">Adjust</button>
            </form>
            <form method="post" action={`/admin/users/${id}/tier`} class="card stack">
              <h2>Tier</h2>
              <input type="hidden" name="_csrf" value={csrf} />
              <label>
                Tier
                <select name="tier">
                  {tiers.map((t) => (
                    <option value={t.name} selected={t.name === user.tier}>
                      {t.name} ({t.requestsPerMinute}/min,{" "}
                      {t.dailyTokenCap ? `${t.dailyTokenCap} tokens a day` : "no daily cap"})
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit">Change tier</button>
            </form>
            {user.role !== "admin" && (
              <form method="post" action={`/admin/users/${id}/officer`} class="card stack">
                <h2>Grievance officer</h2>
                <input type="hidden" name="_csrf" value={csrf} />
                <label>
                  <input
                    type="checkbox"
                    name="officer"
                    value="on"
                    checked={user.role === "officer"}
                  />{" "}
                  Officer (works through /admin/grievances, nothing else of /admin)
                </label>
                {areas.length > 0 && (
                  <fieldset>
                    <legend>Limited to these areas (none: every area)</legend>
                    {areas.map((a) => (
                      <label key={a.id}>
                        <input
                          type="checkbox"
                          name={`area_${a.id}`}
                          value="on"
                          checked={officerAreas.includes(a.id)}
                        />{" "}
                        {a.name}
                      </label>
                    ))}
                  </fieldset>
                )}
                <button type="submit">Save</button>
              </form>
            )}
            {!self && (
              <form
                method="post"
                action={`/admin/users/${id}/${user.disabled ? "enable" : "disable"}`}
                class="card stack"
              >
                <h2>{user.disabled ? "Enable" : "Disable"} account</h2>
                <input type="hidden" name="_csrf" value={csrf} />
                <label>
                  Reason
                  <input name="reason" type="text" required minLength={3} maxLength={500} />
                </label>
                <button type="submit" class={user.disabled ? "" : "danger"}>
                  {user.disabled ? "Enable" : "Disable"}
                </button>
              </form>
            )}
          </div>

          <h2>Wallet ledger</h2>
          <ListTable
            label="Ledger"
            columns={ledgerColumns(tz)}
            rows={entries.slice(0, 20)}
            empty="No entries."
          />
          <CursorPager
            newest={before ? `/admin/users/${id}` : null}
            older={entries.length > 20 ? `/admin/users/${id}?before=${entries[19].seq}` : null}
          />

          <TitledList
            title="Payments"
            columns={paymentColumns(tz)}
            rows={payments}
            empty="No payments."
          />

          <h2>Admin changes</h2>
          <ul class="trail">
            {trail.map((t) => (
              <li>
                <Time at={t.at} tz={tz} /> {t.actor}: {t.action}
                {t.reason && <>— {t.reason}</>}
              </li>
            ))}
            {trail.length === 0 && <li>None.</li>}
          </ul>
          <p>
            <a href={`/admin/audit?target_type=user&target_id=${id}`}>Full audit trail</a>
          </p>
        </>
      ),
    });
  });

  app.post("/users/:id/adjust", async (c) => {
    const id = c.req.param("id");
    const form = await adminForm(c, ctx);
    const page = `/admin/users/${id}`;
    await foundById(id, "This user", (id) => getUser(sql, id));
    const parsed = Adjustment.safeParse(form);
    if (!parsed.success) {
      const field = parsed.error.issues[0].path[0];
      const problem = field === "reason" ? "reason" : field === "delta" ? "amount" : "invalid";
      return back(c, page, { problem });
    }
    const { delta, reason, nonce } = parsed.data;
    const actor = actorOf(c);
    let balance: number;
    try {
      ({ balance } = await adjustBalance(sql, actor, { userId: id, delta, reason, nonce }));
    } catch (error) {
      if (error instanceof AppError && error.code === "insufficient_balance") {
        return back(c, page, { problem: "insufficient" });
      }
      throw error;
    }
    await publish(ctx.db, {
      userId: id,
      type: "wallet.updated",
      data: { balance, reason: "admin_adjustment" },
    }).catch((error) => ctx.log.error("wallet event failed", { error }));
    ctx.log.info("admin adjusted a balance", { adminId: actor.id, userId: id, delta });
    return back(c, page, { notice: "adjusted" });
  });

  app.post("/users/:id/tier", async (c) => {
    const id = c.req.param("id");
    const form = await adminForm(c, ctx);
    const page = `/admin/users/${id}`;
    if (!UUID.test(id)) throw notFound("This user");
    const tier = form.tier ?? "";
    const changed = await changeTier(sql, actorOf(c), id, tier);
    if (changed === "invalid") return back(c, page, { problem: "tier" });
    return back(c, page, { notice: changed === "changed" ? "tier" : "unchanged" });
  });

  app.post("/users/:id/officer", async (c) => {
    const id = c.req.param("id");
    const form = await adminForm(c, ctx);
    const page = `/admin/users/${id}`;
    if (!UUID.test(id)) throw notFound("This user");
    const areaIds = Object.keys(form).filter((k) => k.startsWith("area_") && form[k] === "on")
      .map((k) => k.slice(5)).filter((a) => UUID.test(a));
    const done = await setOfficer(sql, actorOf(c), id, { officer: form.officer === "on", areaIds });
    return back(c, page, done === "changed" ? { notice: "saved" } : { notice: "unchanged" });
  });

  for (const action of ["disable", "enable"] as const) {
    app.post(`/users/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      const form = await adminForm(c, ctx);
      const page = `/admin/users/${id}`;
      if (!UUID.test(id)) throw notFound("This user");
      const reason = Reason.safeParse(form.reason);
      if (!reason.success) return back(c, page, { problem: "reason" });
      if (action === "disable" && id === c.get("auth")!.user.id) {
        return back(c, page, { problem: "self" });
      }
      const done = await setUserDisabled(sql, actorOf(c), {
        userId: id,
        disabled: action === "disable",
        reason: reason.data,
      });
      return back(c, page, { notice: done ? `${action}d` : "unchanged" });
    });
  }

  return app;
}
