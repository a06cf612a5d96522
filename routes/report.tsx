/**
 * The public grievance pages: `/report` (a form with attachments: anyone may report a problem)
 * and `/track` (follow a report with its reference and the phone number it was made with).
 *
 * - Plain HTML forms (they work without JavaScript) with a CSRF token; `/report` is multipart.
 * - A file of the wrong type is refused with the accepted types and the rest of the report is
 *   kept; a file over its limit refuses the whole form with a 413 naming the limit, the typed
 *   text shown again.
 * - `/track` answers an unknown reference and a reference that does not match the phone with
 *   the same "not found" (lib/grievances/track.ts). A match sets a tracking pass (a signed
 *   cookie for 30 minutes, bound to that grievance) that lets the complainant open their own
 *   attachments at `/track/files/{id}`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ComponentChildren } from "preact";
import { getCookie, setCookie } from "hono/cookie";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { tierCache } from "../lib/accounts/tiers.ts";
import {
  ACCEPTED_TYPES,
  MAX_ATTACHMENT_BYTES,
  MAX_ATTACHMENTS,
} from "../lib/grievances/attachments.ts";
import { LIMITS, type Refusal, reportFormInput } from "../lib/grievances/intake.ts";
import type { Grievance } from "../lib/grievances/model.ts";
import { listAreas } from "../lib/grievances/taxonomy.ts";
import { AppError } from "../lib/errors.ts";
import { isRefusal, refusalStatus } from "./_errors.tsx";
import { hmacHex, timingSafeEqual } from "../lib/security/tokens.ts";
import { type AuthEnv, checkCsrf, cookieOptions, pageCsrfToken, rateLimit } from "./_auth.ts";
import type { AppContext } from "./_context.ts";
import { downloadResponse } from "./_download.ts";
import { GrievanceAnswer } from "./_grievance_answer.tsx";
import { readForm, readUpload } from "./_form.ts";
import { renderPage } from "./_render.tsx";

const TRACK_COOKIE = "hk_track";
const TRACK_PASS_SECONDS = 30 * 60;
const ACCEPT = ".jpg,.jpeg,.png,.pdf,.mp3,.wav,.ogg,.opus,image/jpeg,image/png,application/pdf," +
  "audio/mpeg,audio/wav,audio/ogg";

type Values = Record<string, string>;
/** A form's page: shown empty, or again with what was typed, the error and its status. */
type FormPage = (
  c: Context<AuthEnv>,
  values?: Values,
  error?: string,
  status?: ContentfulStatusCode,
) => Promise<Response>;

function ReportForm(props: {
  csrf: string;
  nonce: string;
  areas: { id: string; name: string }[];
  values: Values;
  error?: string;
}) {
  const v = props.values;
  return (
    <form method="post" action="/report" enctype="multipart/form-data" class="stack" novalidate>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <input type="hidden" name="nonce" value={props.nonce} />
      {props.error && <p class="form-error" role="alert">{props.error}</p>}
      <label>
        What is the problem?
        <textarea name="description" rows={6} maxLength={LIMITS.description} required>
          {v.description ?? ""}
        </textarea>
        <small>In your own words and language: what is wrong, where, and since when.</small>
      </label>
      {props.areas.length > 0 && (
        <label>
          Area
          <select name="area">
            <option value="">Not sure</option>
            {props.areas.map((a) => (
              <option value={a.id} selected={v.area === a.id}>{a.name}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        Place (address or landmark)
        <input name="address" maxLength={LIMITS.address} value={v.address ?? ""} />
      </label>
      <label>
        Photos, voice notes or documents (optional, up to {MAX_ATTACHMENTS})
        <input type="file" name="attachments" multiple accept={ACCEPT} />
        <small>{ACCEPTED_TYPES}.</small>
      </label>
      <fieldset>
        <legend>How we reach you</legend>
        <label>
          Name
          <input name="name" autocomplete="name" maxLength={LIMITS.name} value={v.name ?? ""} />
        </label>
        <label>
          Phone number
          <input name="phone" type="tel" autocomplete="tel" value={v.phone ?? ""} />
          <small>Needed to follow your report on this site.</small>
        </label>
        <label>
          E-mail
          <input name="email" type="email" autocomplete="email" value={v.email ?? ""} />
          <small>We answer by e-mail when you give one.</small>
        </label>
        <small>Your personal details are stored encrypted and seen only by the officers.</small>
      </fieldset>
      <button type="submit">Send report</button>
    </form>
  );
}

function TrackForm(props: { csrf: string; values: Values; error?: string }) {
  const v = props.values;
  return (
    <form method="post" action="/track" class="stack" novalidate>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.error && <p class="form-error" role="alert">{props.error}</p>}
      <label>
        Reference
        <input
          name="reference"
          placeholder="GRV-2026-00042"
          autocomplete="off"
          value={v.reference ?? ""}
          required
        />
      </label>
      <label>
        Phone number you reported with
        <input name="phone" type="tel" autocomplete="tel" value={v.phone ?? ""} required />
      </label>
      <button type="submit">Show my report</button>
    </form>
  );
}

const STATUS_TEXT: Record<Grievance["status"], string> = {
  submitted: "Received",
  classified: "Received and sorted",
  in_review: "Being looked into",
  resolved: "Resolved",
  rejected: "Closed without action",
};

function TrackedReport(props: {
  g: Grievance;
  files: { id: string; kind: string; filename: string | null }[];
  tz: string;
}) {
  const { g } = props;
  const day = (d: Date | null) =>
    d
      ? new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeZone: props.tz }).format(d)
      : "—";
  return (
    <article class="stack" data-testid="tracked">
      <h2>{g.reference}</h2>
      <dl>
        <dt>Status</dt>
        <dd data-testid="status">{STATUS_TEXT[g.status]}</dd>
        <dt>Received</dt>
        <dd>{day(g.createdAt)}</dd>
        {g.categories.length > 0 && (
          <>
            <dt>About</dt>
            <dd>{g.categories.map((c) => c.name).join(", ")}</dd>
          </>
        )}
        {(g.localSummary ?? g.summary) && (
          <>
            <dt>Summary</dt>
            <dd>{g.localSummary ?? g.summary}</dd>
          </>
        )}
        {g.resolvedAt && (
          <>
            <dt>Closed</dt>
            <dd>{day(g.resolvedAt)}</dd>
          </>
        )}
      </dl>
      <GrievanceAnswer answer={g.answer} title="Our answer" level={3} />
      {props.files.length > 0 && (
        <section>
          <h3>Your attachments</h3>
          <ul>
            {props.files.map((f) => (
              <li>
                <a href={`/track/files/${f.id}`}>{f.filename || `${f.kind} attachment`}</a>
              </li>
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}

async function passValue(ctx: AppContext, grievanceId: string): Promise<string> {
  const expires = Date.now() + TRACK_PASS_SECONDS * 1000;
  const mac = await hmacHex(ctx.config.appSecret, `track:${grievanceId}.${expires}`);
  return `${grievanceId}.${expires}.${mac}`;
}

/** The grievance a valid tracking pass opens, or null. */
async function passGrievance(c: Context, ctx: AppContext): Promise<string | null> {
  const [id, expires, mac] = (getCookie(c, TRACK_COOKIE) ?? "").split(".");
  if (!id || !expires || !mac || !(Number(expires) > Date.now())) return null;
  const expected = await hmacHex(ctx.config.appSecret, `track:${id}.${expires}`);
  return timingSafeEqual(expected, mac) ? id : null;
}

function describeRefusals(refused: Refusal[]): string[] {
  return refused.map((r) => r.message);
}

export function reportRoutes(ctx: AppContext): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limited = rateLimit(ctx, tierCache(ctx.db.sql));
  const sandboxed = ctx.config.sandboxed;
  const g = ctx.grievances;

  /** A page of the narrow column under its title as heading, as the forms' pages are. */
  const narrowPage = (
    c: Context<AuthEnv>,
    title: string,
    content: ComponentChildren,
    status: ContentfulStatusCode,
  ) =>
    renderPage(c, {
      title,
      sandboxed,
      body: (
        <div class="narrow">
          <h1>{title}</h1>
          {content}
        </div>
      ),
    }, status);

  const reportPage: FormPage = async (c, values = {}, error, status = 200) =>
    narrowPage(
      c,
      "Report a problem",
      <>
        <p class="lead">
          Tell us what is wrong. You get a reference to follow your report on{" "}
          <a href="/track">the tracking page</a>.
        </p>
        <ReportForm
          csrf={await pageCsrfToken(c, ctx)}
          nonce={values.nonce || crypto.randomUUID()}
          areas={await listAreas(ctx.db.sql)}
          values={values}
          error={error}
        />
      </>,
      status,
    );

  app.get("/report", (c) => reportPage(c));

  app.post("/report", limited, async (c) => {
    let upload;
    try {
      upload = await readUpload(c, {
        maxFiles: MAX_ATTACHMENTS,
        maxFileBytes: MAX_ATTACHMENT_BYTES,
      });
    } catch (error) {
      if (isRefusal(error) && error.code !== "unsupported_media_type") {
        return reportPage(c, {}, error.message, refusalStatus(c, error));
      }
      throw error;
    }
    const { fields, files } = upload;
    await checkCsrf(c, ctx, fields._csrf);
    const values = { ...fields };
    const { accepted, refused } = await g.screen(
      files.map((f) => ({ bytes: f.bytes, filename: f.filename })),
    );
    const tooLarge = refused.find((r) => r.reason === "size");
    if (tooLarge) return reportPage(c, values, tooLarge.message, 413);
    const nonce = /^[0-9a-f-]{36}$/i.test(fields.nonce ?? "") ? fields.nonce : null;
    let submitted;
    try {
      submitted = await g.submit(ctx.jobs, {
        channel: "web",
        ...reportFormInput(fields),
        attachments: accepted,
        submittedBy: c.get("auth")?.user.id ?? null,
        intakeKey: nonce ? `web:${nonce}` : null,
      });
    } catch (error) {
      if (isRefusal(error)) {
        return reportPage(c, values, error.message, refusalStatus(c, error));
      }
      throw error;
    }
    const notes = describeRefusals(refused);
    return renderPage(c, {
      title: "Report received",
      sandboxed,
      body: (
        <div class="narrow" data-testid="received">
          <h1>Thank you</h1>
          <p class="lead">
            Your report is{" "}
            <strong data-testid="reference">{submitted.reference}</strong>. Keep this reference:
            with it and your phone number you can follow your report on{" "}
            <a href="/track">the tracking page</a>.
          </p>
          {notes.length > 0 && (
            <div class="form-error" role="alert">
              <p>These files were not added to your report:</p>
              <ul>{notes.map((n) => <li key={n}>{n}</li>)}</ul>
            </div>
          )}
        </div>
      ),
    }, 201);
  });

  const trackPage: FormPage = async (c, values = {}, error, status = 200) =>
    narrowPage(
      c,
      "Follow a report",
      <TrackForm csrf={await pageCsrfToken(c, ctx)} values={values} error={error} />,
      status,
    );

  app.get("/track", (c) => trackPage(c));

  app.post("/track", limited, async (c) => {
    const form = await readForm(c);
    await checkCsrf(c, ctx, form._csrf);
    const reference = (form.reference ?? "").slice(0, 40);
    const phone = (form.phone ?? "").slice(0, 40);
    const found = await g.track({ reference, phone });
    if (!found) {
      return trackPage(
        c,
        { reference, phone },
        "No report matches this reference and phone number. Check both and try again.",
        404,
      );
    }
    setCookie(c, TRACK_COOKIE, await passValue(ctx, found.id), {
      ...cookieOptions(ctx, TRACK_PASS_SECONDS),
      path: "/track",
    });
    c.header("Cache-Control", "no-store");
    const files = await g.attachments(found.id);
    return renderPage(c, {
      title: found.reference,
      sandboxed,
      body: (
        <div class="narrow">
          <h1>Your report</h1>
          <TrackedReport g={found} files={files} tz={ctx.config.tzMetrics} />
          <p>
            <a href="/track">Follow another report</a>
          </p>
        </div>
      ),
    });
  });

  app.get("/track/files/:id", async (c) => {
    const grievanceId = await passGrievance(c, ctx);
    const file = grievanceId ? await g.file(grievanceId, c.req.param("id")) : null;
    if (!file) {
      throw new AppError(
        "not_found",
        "This file does not exist, or your tracking pass expired: follow your report again.",
      );
    }
    return downloadResponse(c, file);
  });

  return app;
}
