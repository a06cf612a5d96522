/**
 * Report a problem: describe → attach photos, voice notes or documents (or skip) → the place (a
 * shared WhatsApp location, or typed) → confirm, then the reference to keep. The report becomes a
 * grievance (lib/grievances) through the bot's grievance port; its words are sealed in the
 * session while it is written, and the messages that carried them are redacted once it is sent.
 *
 * Sending is idempotent on the confirming message, so a step that runs again never files twice.
 */
import {
  REPORT_ATTACH,
  REPORT_ATTACH_MORE,
  REPORT_ATTACH_TOO_MANY,
  REPORT_CANCELLED,
  REPORT_CONFIRM,
  REPORT_DESCRIBE,
  REPORT_DESCRIBE_AGAIN,
  REPORT_LOCATION,
  REPORT_SENT,
  REPORT_UNAVAILABLE,
} from "../texts.ts";
import type { OutboundButtons } from "../../types.ts";
import type { BotContext, BotInput, BotState, ReportDraft, Session, Step } from "../types.ts";
import { mainMenu, text } from "./menu.ts";

type ReportState = Extract<BotState, { flow: "report" }>;
type Drafting = Extract<ReportState, { draft: ReportDraft }>;

const MAX_FILES = 5;
const WORDS = {
  done: ["done", "finished", "next", "no more", "that s all", "skip"],
  send: ["send", "yes", "ok", "confirm", "submit"],
  cancel: ["cancel", "no", "discard", "stop"],
};

const normalise = (s: string) =>
  s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();

function choiceOf(input: BotInput): string | undefined {
  if (input.kind === "choice") return input.id;
  if (input.kind !== "text") return undefined;
  const said = normalise(input.text);
  if (WORDS.send.includes(said)) return "word:send";
  if (WORDS.done.includes(said)) return "word:done";
  if (WORDS.cancel.includes(said)) return "word:cancel";
  return undefined;
}

const attachButtons = (body: string): { message: OutboundButtons } => ({
  message: {
    type: "buttons",
    body,
    buttons: [{ id: "report:done", title: "Done" }, { id: "report:skip", title: "Skip" }],
  },
});

const locationButtons = (): { message: OutboundButtons } => ({
  message: {
    type: "buttons",
    body: REPORT_LOCATION,
    buttons: [{ id: "report:no_place", title: "Skip" }],
  },
});

function confirmButtons(summary: string): { message: OutboundButtons } {
  return {
    message: {
      type: "buttons",
      body: summary,
      buttons: [{ id: "report:send", title: "Send" }, { id: "report:cancel", title: "Cancel" }],
    },
  };
}

const stay = (session: Session, state: ReportState, replies: Step["replies"]): Step => ({
  session: { ...session, state },
  replies,
});

const toMenu = (session: Session, body: string): Step => ({
  session: { ...session, state: { flow: "menu" } },
  replies: [mainMenu(body)],
});

export function enter(ctx: BotContext, session: Session): Step {
  if (!ctx.deps.grievances) {
    return {
      session: { ...session, state: { flow: "menu" } },
      replies: [text(REPORT_UNAVAILABLE)],
    };
  }
  return stay(session, { flow: "report", step: "describe" }, [text(REPORT_DESCRIBE)]);
}

async function confirmStep(ctx: BotContext, session: Session, draft: ReportDraft): Promise<Step> {
  const port = ctx.deps.grievances!;
  const description = await port.open(draft.description, ctx.phone);
  let place = "not given";
  if (draft.location) {
    const location = JSON.parse(await port.open(draft.location, ctx.phone)) as {
      text?: string;
      name?: string;
      address?: string;
    };
    place = location.text ?? location.address ?? location.name ?? "your shared location";
  }
  const shown = description.length > 300 ? description.slice(0, 297) + "…" : description;
  return stay(session, { flow: "report", step: "confirm", draft }, [
    confirmButtons(REPORT_CONFIRM(shown, draft.media.length, place.slice(0, 100))),
  ]);
}

export async function handle(ctx: BotContext, session: Session, input: BotInput): Promise<Step> {
  const port = ctx.deps.grievances;
  if (!port) return toMenu(session, REPORT_UNAVAILABLE);
  const state = session.state as ReportState;
  if (state.step === "describe") {
    if (input.kind !== "text" || !input.text.trim()) {
      return stay(session, state, [text(REPORT_DESCRIBE_AGAIN)]);
    }
    const draft: ReportDraft = {
      description: await port.seal(input.text.trim(), ctx.phone),
      media: [],
      location: null,
      messages: [ctx.inboundId],
    };
    return stay(session, { flow: "report", step: "attach", draft }, [attachButtons(REPORT_ATTACH)]);
  }
  const { draft } = state as Drafting;
  const choice = choiceOf(input);
  switch (state.step) {
    case "attach": {
      if (input.kind === "media") {
        if (draft.media.length >= MAX_FILES) {
          return stay(session, state, [attachButtons(REPORT_ATTACH_TOO_MANY)]);
        }
        const check = input.stored ? await port.checkMedia(ctx.inboundId) : {
          ok: false as const,
          message: port.refusal(input.refused ?? "failed", input.mimeType),
        };
        if (!check.ok) return stay(session, state, [attachButtons(check.message)]);
        const next = { ...draft, media: [...draft.media, ctx.inboundId] };
        return stay(session, { ...state, draft: next }, [
          attachButtons(REPORT_ATTACH_MORE(next.media.length, MAX_FILES)),
        ]);
      }
      if (choice === "report:done" || choice === "report:skip" || choice === "word:done") {
        return stay(session, { flow: "report", step: "location", draft }, [locationButtons()]);
      }
      return stay(session, state, [attachButtons(REPORT_ATTACH)]);
    }
    case "location": {
      if (input.kind === "location") {
        const location = await port.seal(
          JSON.stringify({
            latitude: input.latitude,
            longitude: input.longitude,
            name: input.name,
            address: input.address,
          }),
          ctx.phone,
        );
        return await confirmStep(ctx, session, {
          ...draft,
          location,
          messages: [...draft.messages, ctx.inboundId],
        });
      }
      if (choice === "report:no_place" || choice === "word:done") {
        return await confirmStep(ctx, session, draft);
      }
      if (input.kind === "text" && input.text.trim()) {
        const location = await port.seal(JSON.stringify({ text: input.text.trim() }), ctx.phone);
        return await confirmStep(ctx, session, {
          ...draft,
          location,
          messages: [...draft.messages, ctx.inboundId],
        });
      }
      return stay(session, state, [locationButtons()]);
    }
    case "confirm": {
      if (choice === "report:send" || choice === "word:send") {
        const { reference } = await port.submit({
          phone: ctx.phone,
          name: ctx.user.displayName,
          draft,
          intakeKey: `whatsapp:${ctx.inboundId}`,
        });
        return {
          session: { ...session, state: { flow: "menu" } },
          replies: [text(REPORT_SENT(reference, port.trackUrl))],
        };
      }
      if (choice === "report:cancel" || choice === "word:cancel") {
        return toMenu(session, REPORT_CANCELLED);
      }
      return await confirmStep(ctx, session, draft);
    }
  }
  return toMenu(session, REPORT_CANCELLED);
}
